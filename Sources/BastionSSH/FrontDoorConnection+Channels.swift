import BastionCore
import CLibSSH
import Foundation

extension FrontDoorConnection {
    /// Accepts a "session" channel from an authenticated client. One the enforcement point
    /// refuses (a lock, one past `max_sessions`) is still opened, and refused with its reason
    /// at its shell or exec request, where the user can read it; while such a channel waits
    /// for its request, a further one is refused outright.
    func openSessionChannel() -> ssh_channel? {
        guard identity != nil, phase.isOpen, !channels.contains(where: { $0.refusalAtRequest != nil }),
            let newChannel = ssh_channel_new(session)
        else { return nil }
        let opened = SessionChannel(connection: self, channel: newChannel)
        opened.refusalAtRequest = refusalOfChannel(.session)
        channels.append(opened)
        return newChannel
    }

    /// One turn for every session channel: relays move bytes, commands talk and write their
    /// output; channels that are over are freed.
    func serviceChannels(event: ssh_event) {
        for channel in channels {
            if channel.live != nil {
                channel.serviceLiveSession(event: event)
            } else {
                channel.serviceConversation()
                channel.deliverOutputIfReady()
            }
        }
        channels.removeAll { channel in
            guard channel.isDone else { return false }
            channel.free()
            lastChannelClosedAt = Date()
            return true
        }
    }

    /// The connection is ending: relayed sessions are sealed and audited as abandoned (or with
    /// the reason Bastion was already ending them for), conversations interrupted, channels freed.
    func closeChannels(event: ssh_event?) {
        for channel in channels { channel.abandonSession(event: event) }
        for channel in channels {
            channel.interruptConversation()
            channel.free()
        }
        channels.removeAll()
    }
}
