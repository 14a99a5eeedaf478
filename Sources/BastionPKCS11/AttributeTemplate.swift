import CPKCS11

/// One CK_ATTRIBUTE whose value Swift owns, so a template can be built without raw pointers and
/// only lent to C for the duration of a call (`withTemplate`).
struct Attribute {
    let type: CK_ATTRIBUTE_TYPE
    let value: [UInt8]

    static func bool(_ type: CK_ATTRIBUTE_TYPE, _ value: Bool) -> Attribute {
        Attribute(type: type, value: [value ? UInt8(CK_TRUE) : UInt8(CK_FALSE)])
    }

    static func ulong(_ type: CK_ATTRIBUTE_TYPE, _ value: CK_ULONG) -> Attribute {
        Attribute(type: type, value: withUnsafeBytes(of: value) { Array($0) })
    }

    static func bytes(_ type: CK_ATTRIBUTE_TYPE, _ value: [UInt8]) -> Attribute {
        Attribute(type: type, value: value)
    }

    static func string(_ type: CK_ATTRIBUTE_TYPE, _ value: String) -> Attribute {
        Attribute(type: type, value: Array(value.utf8))
    }
}

/// Lends `attributes` to C as a CK_ATTRIBUTE array. All values are copied into one buffer that,
/// like the array itself, stays alive until `body` returns; the pointers must not escape it.
func withTemplate<R, E: Error>(
    _ attributes: [Attribute],
    _ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, CK_ULONG) throws(E) -> R
) throws(E) -> R {
    var storage = attributes.flatMap(\.value)
    let result: Result<R, E> = storage.withUnsafeMutableBytes { raw in
        var offset = 0
        var template: [CK_ATTRIBUTE] = []
        template.reserveCapacity(attributes.count)
        for attribute in attributes {
            let pointer = attribute.value.isEmpty ? nil : raw.baseAddress.map { $0 + offset }
            template.append(CK_ATTRIBUTE(type: attribute.type, pValue: pointer, ulValueLen: CK_ULONG(attribute.value.count)))
            offset += attribute.value.count
        }
        return template.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(E) -> R in try body(buffer.baseAddress, CK_ULONG(buffer.count)) }
        }
    }
    return try result.get()
}
