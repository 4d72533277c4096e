import Foundation
import SeedgenCore

/// What a Proxmox API answered: the HTTP status and the JSON body (`{"data": …}`, and on errors
/// `message` and `errors`).
public struct ProxmoxAPIResponse: Sendable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }

    /// The body's `data` member (nil for JSON null).
    public func data() throws -> Any? {
        let object = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        guard let envelope = object as? [String: Any] else { return nil }
        let data = envelope["data"]
        return data is NSNull ? nil : data
    }

    /// Proxmox's error text: `message` plus every per-parameter error.
    public var errorMessage: String {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return String(decoding: body.prefix(200), as: UTF8.self)
        }
        var text = (object["message"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "HTTP \(status)"
        if let errors = object["errors"] as? [String: Any], !errors.isEmpty {
            text += " (" + errors.keys.sorted().map { "\($0): \(errors[$0] ?? "")" }.joined(separator: "; ") + ")"
        }
        return text
    }
}

/// Sends one call to a node's API. The real client speaks HTTPS with the API token; the tests'
/// fake follows Proxmox's rules in memory. `artifactDirectory` is where upload sources are read.
public protocol ProxmoxAPIClient: Sendable {
    func send(_ call: ProxmoxAPICall, artifactDirectory: URL?) async throws -> ProxmoxAPIResponse
}

extension ProxmoxAPIClient {
    /// A GET whose answer must be 200; its `data`.
    func get(_ endpoint: String, _ pathValues: [String: String], _ parameters: [ProxmoxAPICall.Parameter] = [])
        async throws -> Any?
    {
        let call = ProxmoxAPICall(.get, endpoint, pathValues, parameters: parameters, startsTask: false, stepID: "read")
        let response = try await send(call, artifactDirectory: nil)
        guard response.status == 200 else {
            throw SeedgenError.runtime(
                message: "\(call.redactedDescription): \(response.errorMessage)",
                hint: ProxmoxAPIHints.hint(for: response.status))
        }
        return try response.data()
    }
}

enum ProxmoxAPIHints {
    static func hint(for status: Int) -> String? {
        switch status {
        case 401:
            return
                "the API token was refused: check PVE_API_TOKEN (USER@REALM!ID=SECRET) and that the token exists and "
                + "has not expired"
        case 403:
            return
                "the token lacks a privilege: the preflight report lists each one with the pveum commands that grant it"
        default: return nil
        }
    }
}
