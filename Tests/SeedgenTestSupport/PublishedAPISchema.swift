import Foundation
import SeedgenApply

/// Proxmox's published API schema for the endpoints `apply` calls (pve-docs `api-viewer/apidata.js`,
/// cut down by scripts/extract-pve-api-schema.py into Tests/Fixtures/pve-api/apidata-subset.json),
/// checked the way pve-common's `PVE::JSONSchema::validate` checks a request's parameters: unknown
/// parameters (`additionalProperties: 0`), missing ones, `requires`, types, enums, patterns, ranges,
/// lengths, the named formats seedgen's calls use, and property strings (`net0=virtio=…,bridge=…`)
/// key by key. Named formats it does not know are not checked; `checkedFormats` lists those it does.
public enum PublishedAPISchema {
    public typealias Endpoints = [String: [String: Any]]

    /// The endpoints, loaded once.
    nonisolated(unsafe) public static let endpoints: Endpoints = load()

    public static func load() -> Endpoints {
        let url = TestPaths.fixtures.appendingPathComponent("pve-api/apidata-subset.json")
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let endpoints = object["endpoints"] as? [String: [String: Any]]
        else { return [:] }
        return endpoints
    }

    public static let checkedFormats: Set<String> = [
        "pve-node", "pve-storage-id", "pve-vmid", "pve-configid", "pve-storage-content", "pve-storage-content-list",
        "dns-name", "urlencoded", "pve-tag-list", "address-list", "pve-volume-id", "mac-addr", "pve-bridge-id",
    ]

    /// Everything about `call` that the schema refuses, as `parameter: message` (`""` for the call
    /// itself: unknown endpoint or method, or one tokens may not use).
    public static func violations(
        method: String, endpoint: String, parameters: [(name: String, value: String)],
        in endpoints: Endpoints = endpoints
    ) -> [String: String] {
        guard let methods = endpoints[endpoint] else { return ["": "\(endpoint): not in the API schema"] }
        guard let info = methods[method] as? [String: Any] else { return ["": "\(method) \(endpoint): no such method"] }
        if (info["allowtoken"] as? Int) != 1 { return ["": "\(endpoint): API tokens are refused"] }
        let parameterSchema = info["parameters"] as? [String: Any] ?? [:]
        let schema = parameterSchema["properties"] as? [String: [String: Any]] ?? [:]
        var errors: [String: String] = [:]
        var given: [String: String] = [:]
        for (name, value) in parameters {
            if given[name] != nil { errors[name] = "duplicate parameter (given twice)" }
            given[name] = value
        }
        for (name, value) in given {
            let key =
                schema[name] != nil
                ? name : name.replacingOccurrences(of: "[0-9]+$", with: "[n]", options: .regularExpression)
            guard let property = schema[key] else {
                if (parameterSchema["additionalProperties"] as? Int) != 1 {
                    errors[name] =
                        "property is not defined in schema and the schema does not allow additional properties"
                }
                continue
            }
            if let problem = check(value, against: property) { errors[name] = problem }
            if let required = property["requires"] as? String, given[required] == nil {
                errors[required] = "parameter is required by '\(name)'"
            }
        }
        for (name, property) in schema where (property["optional"] as? Int) != 1 && !name.contains("[n]") {
            if given[name] == nil { errors[name] = "property is missing and it is not optional" }
        }
        return errors
    }

    /// `violations` of a call as it would be sent: its path values, parameters and the upload's stored name.
    public static func violations(_ call: ProxmoxAPICall, in endpoints: Endpoints = endpoints) -> [String: String] {
        var parameters =
            call.pathValues.map { (name: $0.key, value: $0.value) }
            + call.parameters.map { (name: $0.name, value: $0.value) }
        if let upload = call.upload { parameters.append((name: "filename", value: upload.storedName)) }
        return violations(method: call.method.rawValue, endpoint: call.endpoint, parameters: parameters, in: endpoints)
    }

    /// The same, as sorted lines (`param: message`).
    public static func problems(_ call: ProxmoxAPICall, in endpoints: Endpoints = endpoints) -> [String] {
        violations(call, in: endpoints).sorted { $0.key < $1.key }.map {
            $0.key.isEmpty ? $0.value : "\($0.key): \($0.value)"
        }
    }

    /// One value against its property schema: nil when it passes, else the message Proxmox gives.
    static func check(_ value: String, against property: [String: Any]) -> String? {
        switch property["type"] as? String {
        case "integer":
            guard let number = Int(value) else { return "type check ('integer') failed - got '\(value)'" }
            if let minimum = property["minimum"] as? Int, number < minimum {
                return "value must have a minimum value of \(minimum)"
            }
            if let maximum = property["maximum"] as? Int, number > maximum {
                return "value must have a maximum value of \(maximum)"
            }
        case "number":
            guard let number = Double(value) else { return "type check ('number') failed - got '\(value)'" }
            if let minimum = property["minimum"] as? Double, number < minimum {
                return "value must have a minimum value of \(minimum)"
            }
            if let maximum = property["maximum"] as? Double, number > maximum {
                return "value must have a maximum value of \(maximum)"
            }
        case "boolean":
            guard ["1", "0", "true", "false", "yes", "no", "on", "off"].contains(value.lowercased()) else {
                return "type check ('boolean') failed - got '\(value)'"
            }
        default:
            break
        }
        if let choices = property["enum"] as? [String], !choices.contains(value) {
            return "value '\(value)' does not have a value in the enumeration '\(choices.joined(separator: ", "))'"
        }
        if let minimum = property["minLength"] as? Int, value.count < minimum {
            return "value must be at least \(minimum) characters long"
        }
        if let maximum = property["maxLength"] as? Int, value.count > maximum {
            return "value may only be \(maximum) characters long"
        }
        if let pattern = property["pattern"] as? String, !matches(value, perlPattern: pattern) {
            return "value does not match the regex pattern"
        }
        if let format = property["format"] as? [String: [String: Any]] {
            return checkPropertyString(value, format: format)
        }
        if let format = property["format"] as? String { return check(value, format: format) }
        return nil
    }

    /// `key=value,…` (and the default key's bare value) against a dict format.
    private static func checkPropertyString(_ value: String, format: [String: [String: Any]]) -> String? {
        let defaultKey = format.first { ($0.value["default_key"] as? Int) == 1 }?.key
        var seen: Set<String> = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            let key: String
            let item: String
            if pair.count == 2, format[pair[0]] != nil {
                (key, item) = (pair[0], pair[1])
            } else if let defaultKey, !part.isEmpty, !seen.contains(defaultKey) {
                (key, item) = (defaultKey, part)
            } else if pair.count == 2 {
                return "invalid format - property '\(pair[0])' is not defined in the format of this value"
            } else {
                return "invalid format - value without key, and '\(part)' is not one"
            }
            guard seen.insert(key).inserted else { return "invalid format - duplicate key '\(key)' in property string" }
            var schema = format[key] ?? [:]
            if let alias = schema["alias"] as? String { schema = format[alias] ?? [:] }
            if let problem = check(item, against: schema) { return "invalid format - \(key): \(problem)" }
        }
        return nil
    }

    private static func check(_ value: String, format: String) -> String? {
        func list(_ separators: String) -> [String] {
            value.split(whereSeparator: { separators.contains($0) }).map(String.init)
        }
        let contents = ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"]
        switch format {
        case "pve-node":
            return matches(value, "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
                ? nil : "value does not look like a valid node name"
        case "pve-storage-id":
            return matches(value, "(?i)[a-z][a-z0-9_.-]*[a-z0-9]")
                ? nil : "storage ID '\(value)' contains illegal characters"
        case "pve-configid":
            return matches(value, "[a-z][a-z0-9_]+") ? nil : "invalid configuration ID '\(value)'"
        case "pve-storage-content":
            return contents.contains(value) ? nil : "invalid content type '\(value)'"
        case "pve-storage-content-list":
            return list(",; ").allSatisfy(contents.contains) ? nil : "invalid content type in '\(value)'"
        case "dns-name":
            // pve-common's pve_verify_dns_name, written here on its own (not seedgen's DNSName).
            let label = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
            return matches(value, "(?:\(label)\\.)*\(label)") ? nil : "value does not look like a valid DNS name"
        case "urlencoded":
            return value.removingPercentEncoding == nil ? "invalid urlencoded string: \(value)" : nil
        case "pve-tag-list":
            return list(",; ").allSatisfy { matches($0, "(?i)[a-z0-9_][a-z0-9_+.-]*") }
                ? nil : "invalid tag in '\(value)'"
        case "address-list":
            return list(",; ").allSatisfy { IPv4Address($0) != nil || IPv6Address($0) != nil }
                ? nil : "invalid address in '\(value)'"
        case "pve-volume-id":
            return matches(value, "[a-z][a-z0-9_.-]*[a-z0-9]:.+") ? nil : "unable to parse volume ID '\(value)'"
        case "mac-addr":
            return matches(value, "(?i)[a-f0-9][02468ace](:[a-f0-9]{2}){5}")
                ? nil : "value does not look like a valid unicast MAC address"
        case "pve-bridge-id":
            return matches(value, "[-_.\\w\\d]+") ? nil : "invalid bridge ID '\(value)'"
        default:
            return nil
        }
    }

    private static func matches(_ value: String, _ pattern: String) -> Bool {
        value.range(of: "^(?:\(pattern))$", options: .regularExpression) != nil
    }

    /// A Perl pattern as the schema prints it (`(?^:…)`, `(?^i:…)`), anchored to the whole value as
    /// pve-common's `validate` anchors it.
    private static func matches(_ value: String, perlPattern: String) -> Bool {
        matches(value, perlPattern.replacingOccurrences(of: "(?^", with: "(?"))
    }
}

/// What `inet_pton` accepts.
private struct IPv4Address {
    init?(_ text: String) {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    }
}

private struct IPv6Address {
    init?(_ text: String) {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
    }
}
