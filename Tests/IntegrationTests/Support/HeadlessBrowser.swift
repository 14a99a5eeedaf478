import BastionTesting
import Foundation

/// A page rendered by headless Chromium (Debian `chromium`), and how much of the picture is
/// not background: the check that a page really shows something, whatever its words.
enum HeadlessBrowser {
    struct Screenshot {
        var path: String
        var width: Int
        var height: Int
        /// Distinct colours in the picture (a blank page has one).
        var colours: Int
        /// Share of pixels that differ from the most common colour.
        var ink: Double
    }

    /// Renders `url` at 1000×700 into `path` and measures it. `arguments` go before the URL
    /// (a private `--user-data-dir`, `--virtual-time-budget` for pages that run scripts).
    static func screenshot(_ url: String, to path: String, arguments: [String] = []) async throws -> Screenshot {
        let render = try await ProcessRunner.run(
            "chromium",
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1000,700", "--screenshot=\(path)"] + arguments + [url],
            timeout: 60
        )
        guard FileManager.default.fileExists(atPath: path) else { throw HarnessError(message: "chromium wrote no screenshot: \(render)") }
        let measured = try await ProcessRunner.run("python3", ["-c", pngInk, path])
        let fields = measured.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard measured.status == 0, fields.count == 4, let width = Int(fields[0]), let height = Int(fields[1]), let colours = Int(fields[2]),
            let ink = Double(fields[3])
        else { throw HarnessError(message: "cannot measure \(path): \(measured)") }
        return Screenshot(path: path, width: width, height: height, colours: colours, ink: ink)
    }

    /// The DOM of `url` after its scripts ran (`--dump-dom`), as Chromium serialises it.
    static func dom(_ url: String, arguments: [String] = []) async throws -> String {
        let render = try await ProcessRunner.run(
            "chromium", ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom"] + arguments + [url], timeout: 60
        )
        guard render.status == 0 else { throw HarnessError(message: "chromium --dump-dom failed: \(render)") }
        return render.stdout
    }

    /// Decodes an 8-bit RGB(A) PNG (undoing the row filters, RFC 2083 §6) and prints
    /// `WIDTH HEIGHT COLOURS INK`. Python's standard library only: no imaging package needed.
    static let pngInk = #"""
import sys, zlib, struct
from collections import Counter
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
offset, idat = 8, b''
while offset < len(data):
    length = struct.unpack('>I', data[offset:offset + 4])[0]
    kind, chunk = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
    if kind == b'IHDR': width, height, depth, color = struct.unpack('>IIBB', chunk[:10])
    if kind == b'IDAT': idat += chunk
    offset += 12 + length
assert depth == 8 and color in (2, 6), 'expects 8-bit RGB or RGBA'
bpp = 3 if color == 2 else 4
raw, stride, rows, previous, at = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp), 0
for _ in range(height):
    kind, line, at = raw[at], bytearray(raw[at + 1:at + 1 + stride]), at + 1 + stride
    for i in range(stride):
        left = line[i - bpp] if i >= bpp else 0
        up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
        if kind == 1: line[i] = (line[i] + left) & 255
        elif kind == 2: line[i] = (line[i] + up) & 255
        elif kind == 3: line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
    rows.append(bytes(line))
    previous = line
pixels = Counter(row[i:i + 3] for row in rows for i in range(0, stride, bpp))
background = pixels.most_common(1)[0][1]
print(width, height, len(pixels), round(1 - background / (width * height), 4))
"""#
}
