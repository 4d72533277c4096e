import SeedgenCore

extension HTTPTransportError: SeedgenErrorConvertible {
    /// The transport's failure as seedgen reports it: the same message, cause and hint.
    public var seedgenError: SeedgenError { .runtime(message: message, hint: hint, cause: cause) }
}
