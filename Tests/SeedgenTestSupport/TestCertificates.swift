import Foundation

/// Certificates made by openssl for one test: a CA, a leaf for 127.0.0.1 and localhost signed by
/// it (as a Proxmox node's certificate is signed by the node's own CA), and an unrelated
/// self-signed certificate. Fingerprints are openssl's own, to check seedgen's against.
public final class TestCertificates: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public var caCertificate: URL { directory.path("ca.pem") }
    public var leafCertificate: URL { directory.path("leaf.pem") }
    public var leafKey: URL { directory.path("leaf.key") }
    public var otherCertificate: URL { directory.path("other.pem") }
    /// `AB:CD:…`, as `openssl x509 -fingerprint -sha256` prints it.
    public let leafFingerprint: String
    public let otherFingerprint: String

    public init() throws {
        guard ProcessRunner.isInstalled("openssl") else { throw TestFixtureError("openssl is not installed") }
        let directory = try TemporaryDirectory(prefix: "seedgen-certs")
        self.directory = directory
        let caCertificate = directory.path("ca.pem"), leafCertificate = directory.path("leaf.pem"),
            leafKey = directory.path("leaf.key")
        let otherCertificate = directory.path("other.pem")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", directory.path("ca.key").path, "-out", caCertificate.path, "-days", "2", "-subj",
                "/CN=seedgen test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try Self.openssl(
            ["req"] + ec + ["-keyout", leafKey.path, "-out", directory.path("leaf.csr").path, "-subj", "/CN=localhost"])
        let extensions = try directory.write(
            "leaf.ext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try Self.openssl([
            "x509", "-req", "-in", directory.path("leaf.csr").path, "-CA", caCertificate.path, "-CAkey",
            directory.path("ca.key").path,
            "-CAcreateserial", "-out", leafCertificate.path, "-days", "2", "-extfile", extensions.path,
        ])
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", directory.path("other.key").path, "-out", otherCertificate.path, "-days", "2", "-subj",
                "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        leafFingerprint = try Self.fingerprint(leafCertificate)
        otherFingerprint = try Self.fingerprint(otherCertificate)
    }

    /// A key for the "other" certificate, to serve it.
    public var otherKey: URL { directory.path("other.key") }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ProcessRunner.run("openssl", arguments)
        guard result.exitCode == 0 else {
            throw TestFixtureError("openssl \(arguments.first ?? "") failed: \(result.stderr)")
        }
    }

    private static func fingerprint(_ certificate: URL) throws -> String {
        let result = try ProcessRunner.run(
            "openssl", ["x509", "-in", certificate.path, "-noout", "-fingerprint", "-sha256"])
        guard result.exitCode == 0, let value = result.stdout.split(separator: "=", maxSplits: 1).last else {
            throw TestFixtureError("openssl x509 -fingerprint failed: \(result.stderr)")
        }
        return value.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
