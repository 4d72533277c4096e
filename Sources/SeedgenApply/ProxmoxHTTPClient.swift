import Foundation
import SeedgenCore
import SeedgenHTTP

/// The Proxmox VE API over HTTPS (`https://host:8006/api2/json/…`) through seedgen's one HTTP
/// transport, authenticated with an API token (`Authorization: PVEAPIToken=…`, which needs no CSRF
/// token). GET and DELETE parameters go in the query string, others form-encoded in the body;
/// uploads stream the file as multipart between a fixed head and tail.
public struct ProxmoxHTTPClient: ProxmoxAPIClient {
    public let base: URL
    public let token: ProxmoxAPIToken
    public let transport: HTTPTransport

    /// `api`: `https://host:8006` (a path, if any, is replaced by `/api2/json`).
    public init(api: URL, token: ProxmoxAPIToken, transport: HTTPTransport) throws {
        guard var components = URLComponents(url: api, resolvingAgainstBaseURL: false), components.scheme?.lowercased() == "https",
              components.host?.isEmpty == false else {
            throw SeedgenError.runtime(
                message: "the API address '\(api.absoluteString)' is not an https:// URL",
                hint: "give the node as https://HOST:8006 (--api or PVE_API_URL); the API is never spoken over plain HTTP")
        }
        components.path = "/api2/json"
        components.query = nil
        guard let url = components.url else { throw SeedgenError.runtime(message: "the API address '\(api.absoluteString)' is not a URL") }
        self.base = url
        self.token = token
        self.transport = transport
    }

    public func send(_ call: ProxmoxAPICall, artifactDirectory: URL?) async throws -> ProxmoxAPIResponse {
        let encodedParameters = call.parameters.map { "\(ProxmoxAPIEncoding.percentEncoded($0.name))=\(ProxmoxAPIEncoding.percentEncoded($0.value))" }
            .joined(separator: "&")
        var address = base.absoluteString + call.path
        var body: HTTPRequestBody?
        if let upload = call.upload {
            guard let artifactDirectory else { throw SeedgenError.runtime(message: "apply: \(call.path) uploads a file, and no artifact directory was given") }
            let form = try ProxmoxMultipartUpload(call)
            body = try HTTPRequestBody.segments(
                [.bytes(form.head), .file(upload.location(in: artifactDirectory)), .bytes(form.tail)],
                contentType: form.contentType)
        } else if call.method == .get || call.method == .delete {
            if !encodedParameters.isEmpty { address += "?" + encodedParameters }
        } else {
            body = .bytes(Data(encodedParameters.utf8), contentType: "application/x-www-form-urlencoded")
        }
        guard let url = URL(string: address) else { throw SeedgenError.runtime(message: "apply: cannot address \(call.path)") }
        let request = HTTPRequest(
            method: call.method.rawValue, url: url,
            headers: [("Authorization", token.authorization), ("Accept", "application/json")], body: body)
        let (head, data) = try await transport.data(request, expecting: nil)
        return ProxmoxAPIResponse(status: head.status, body: data)
    }
}
