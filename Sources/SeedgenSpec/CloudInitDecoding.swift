import Foundation
import SeedgenCore
import SeedgenNoCloud

extension VMSpecDecoding {
    static let cloudInitKeys = [
        "mode", "network_config_version", "hostname", "users", "keep_default_user", "ssh_pwauth", "timezone", "locale",
        "package_update", "package_upgrade", "packages", "write_files", "bootcmd", "runcmd", "extra", "parts",
        "vendor_data",
        "templates",
    ]
    static let userKeys = [
        "name", "ssh_authorized_keys", "ssh_authorized_keys_file", "password_hash", "password_file", "password_env",
        "sudo",
        "groups", "shell",
    ]
    static let partTypes = [
        "text/cloud-config", "text/x-shellscript", "text/cloud-boothook", "text/x-include-url", "text/part-handler",
        "text/jinja2", "text/cloud-config-archive",
    ]

    mutating func decodeCloudInit(_ node: SpecNode, vmid: Int) -> CloudInitSpec? {
        guard let map = decoder.map(node, "cloud_init", allowed: Self.cloudInitKeys) else { return nil }
        var cloudInit = CloudInitSpec()
        if let mode = decoder.choice(map["mode"], "cloud_init.mode", from: CloudInitMode.allCases.map(\.rawValue)) {
            cloudInit.mode = CloudInitMode(rawValue: mode) ?? .iso
        }
        if let version = decoder.int(map["network_config_version"], "cloud_init.network_config_version", range: 1...2) {
            cloudInit.networkConfigVersion = version
        }
        cloudInit.hostname = decoder.string(map["hostname"], "cloud_init.hostname")
        for (index, item) in (decoder.list(map["users"], "cloud_init.users") ?? []).enumerated() {
            if let user = decodeUser(item, path: "cloud_init.users[\(index)]", vmid: vmid, mode: cloudInit.mode) {
                if cloudInit.users.contains(where: { $0.name == user.name }) {
                    decoder.error("user '\(user.name)' is listed twice", item, "cloud_init.users[\(index)].name")
                }
                cloudInit.users.append(user)
            }
        }
        cloudInit.keepDefaultUser =
            decoder.bool(map["keep_default_user"], "cloud_init.keep_default_user") ?? cloudInit.keepDefaultUser
        cloudInit.sshPwauth = decoder.bool(map["ssh_pwauth"], "cloud_init.ssh_pwauth") ?? cloudInit.sshPwauth
        cloudInit.timezone = decoder.string(map["timezone"], "cloud_init.timezone")
        if let timezone = cloudInit.timezone, !TextPattern.matches(timezone, "^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$") {
            decoder.error(
                "'\(timezone)' is not a time zone name", map["timezone"], "cloud_init.timezone",
                allowed: "an IANA name such as Etc/UTC or Europe/Berlin")
        }
        cloudInit.locale = decoder.string(map["locale"], "cloud_init.locale")
        cloudInit.packageUpdate = decoder.bool(map["package_update"], "cloud_init.package_update")
        cloudInit.packageUpgrade =
            decoder.bool(map["package_upgrade"], "cloud_init.package_upgrade") ?? cloudInit.packageUpgrade
        cloudInit.packages = decoder.stringList(map["packages"], "cloud_init.packages") ?? []
        for (index, item) in (decoder.list(map["write_files"], "cloud_init.write_files") ?? []).enumerated() {
            if let file = decodeWriteFile(item, path: "cloud_init.write_files[\(index)]") {
                cloudInit.writeFiles.append(file)
            }
        }
        cloudInit.bootcmd = decodeCommands(map["bootcmd"], "cloud_init.bootcmd")
        cloudInit.runcmd = decodeCommands(map["runcmd"], "cloud_init.runcmd")
        if let extra = map["extra"], !extra.isNull {
            if extra.entries == nil {
                decoder.error("expected a map of cloud-config keys, found \(extra.typeName)", extra, "cloud_init.extra")
            } else if extra.entries?.isEmpty == false {
                cloudInit.extra = extra.yamlValue
            }
        }
        for (index, item) in (decoder.list(map["parts"], "cloud_init.parts") ?? []).enumerated() {
            if let part = decodePart(item, path: "cloud_init.parts[\(index)]", index: index) {
                cloudInit.parts.append(part)
            }
        }
        if let vendor = decoder.readFile(map["vendor_data"], "cloud_init.vendor_data") {
            cloudInit.vendorData = vendor.data
        }
        if let templatesNode = map["templates"],
            let templates = decoder.map(
                templatesNode, "cloud_init.templates", allowed: ["user_data", "network_config", "meta_data"])
        {
            cloudInit.templates.userData = readTemplate(templates["user_data"], "cloud_init.templates.user_data")
            cloudInit.templates.networkConfig = readTemplate(
                templates["network_config"], "cloud_init.templates.network_config")
            cloudInit.templates.metaData = readTemplate(templates["meta_data"], "cloud_init.templates.meta_data")
        }
        return cloudInit
    }

    private mutating func readTemplate(_ node: SpecNode?, _ path: String) -> TemplateSource? {
        guard let file = decoder.readFile(node, path) else { return nil }
        guard let text = String(data: file.data, encoding: .utf8) else {
            decoder.error("template is not UTF-8 text: \(file.path)", node, path)
            return nil
        }
        return TemplateSource(path: file.path, text: text)
    }

    private mutating func decodeUser(_ node: SpecNode, path: String, vmid: Int, mode: CloudInitMode) -> UserSpec? {
        if node["password"] != nil || node["passwd"] != nil || node["plain_text_passwd"] != nil {
            let key = ["password", "passwd", "plain_text_passwd"].first { node[$0] != nil }!
            let keyLocation = node.entries?.first { $0.key == key }?.keyLocation
            decoder.diagnostics.error(
                "plaintext password inline is not allowed", at: keyLocation, keyPath: "\(path).\(key)",
                allowed:
                    "password_file: FILE or password_env: VARIABLE (hashed at build time), or password_hash: a crypt "
                    + "hash"
            )
        }
        let cleaned = node.removing(key: "password").removing(key: "passwd").removing(key: "plain_text_passwd")
        guard let map = decoder.map(cleaned, path, allowed: Self.userKeys) else { return nil }
        guard let name = decoder.requiredString(map["name"], "\(path).name", parent: node) else { return nil }
        if !TextPattern.matches(name, "^[a-z_][a-z0-9_-]{0,31}$") {
            decoder.error(
                "'\(name)' is not a valid user name", map["name"], "\(path).name",
                allowed: "lower-case letters, digits, '_', '-'; starting with a letter or '_'; at most 32 characters")
        }
        var user = UserSpec(name: name)
        for (index, key) in (decoder.stringList(map["ssh_authorized_keys"], "\(path).ssh_authorized_keys") ?? [])
            .enumerated()
        {
            let keyNode = map["ssh_authorized_keys"]?.kind.listItem(index) ?? map["ssh_authorized_keys"]
            if let problem = SSHPublicKey.problem(with: key) {
                decoder.error(
                    "invalid OpenSSH public key: \(problem)", keyNode, "\(path).ssh_authorized_keys[\(index)]",
                    allowed: "a line like 'ssh-ed25519 AAAA… comment'")
            } else {
                user.sshAuthorizedKeys.append(key.trimmingCharacters(in: .whitespaces))
            }
        }
        if let file = decoder.readFile(map["ssh_authorized_keys_file"], "\(path).ssh_authorized_keys_file") {
            let text = String(decoding: file.data, as: UTF8.self)
            let keys = SSHPublicKey.lines(of: text)
            if keys.isEmpty {
                decoder.error(
                    "no public key in \(file.path)", map["ssh_authorized_keys_file"], "\(path).ssh_authorized_keys_file"
                )
            }
            for (lineNumber, key) in keys {
                if let problem = SSHPublicKey.problem(with: key) {
                    decoder.error(
                        "invalid OpenSSH public key on line \(lineNumber) of \(file.path): \(problem)",
                        map["ssh_authorized_keys_file"], "\(path).ssh_authorized_keys_file")
                } else if !user.sshAuthorizedKeys.contains(key) {
                    user.sshAuthorizedKeys.append(key)
                }
            }
        }
        let sources = ["password_hash", "password_file", "password_env"].filter { map[$0] != nil }
        if sources.count > 1 {
            decoder.error("give only one of \(sources.joined(separator: ", "))", node, path)
        }
        if let hashNode = map["password_hash"], let hash = decoder.string(hashNode, "\(path).password_hash") {
            switch PasswordHash.scheme(of: hash) {
            case nil:
                decoder.error(
                    "not a crypt password hash", hashNode, "\(path).password_hash",
                    allowed: "a $6$ (SHA-512), $5$ (SHA-256) or $y$ (yescrypt) hash, e.g. from `openssl passwd -6`")
            case .yescrypt where mode == .pve:
                decoder.error(
                    "Proxmox hashes a $y$ password again, which breaks it", hashNode, "\(path).password_hash",
                    allowed: "a $6$ or $5$ hash in mode pve, or mode iso")
            default:
                user.passwordHash = hash
            }
        }
        var plaintext: String?
        if let file = decoder.readFile(map["password_file"], "\(path).password_file") {
            plaintext = String(decoding: file.data, as: UTF8.self)
            if plaintext?.hasSuffix("\n") == true { plaintext?.removeLast() }
            if plaintext?.isEmpty == true {
                decoder.error("password file is empty: \(file.path)", map["password_file"], "\(path).password_file")
                plaintext = nil
            }
        }
        if let envNode = map["password_env"], let variable = decoder.string(envNode, "\(path).password_env") {
            if let value = environment[variable], !value.isEmpty {
                plaintext = value
            } else {
                decoder.error(
                    "environment variable \(variable) is not set or empty", envNode, "\(path).password_env",
                    allowed: "export \(variable) before running seedgen")
            }
        }
        if let plaintext {
            do {
                user.passwordHash = try PasswordHash.sha512Crypt(
                    plaintext, vmid: vmid, user: name, siteKey: passwordSaltKey)
            } catch {
                decoder.error("cannot hash the password: \(error)", node, path)
            }
        }
        user.sudo = decoder.string(map["sudo"], "\(path).sudo")
        user.groups = decoder.stringList(map["groups"], "\(path).groups") ?? []
        user.shell = decoder.string(map["shell"], "\(path).shell")
        if let shell = user.shell, !shell.hasPrefix("/") {
            decoder.error("shell must be an absolute path", map["shell"], "\(path).shell", allowed: "e.g. /bin/bash")
        }
        return user
    }

    private mutating func decodeWriteFile(_ node: SpecNode, path: String) -> WriteFileSpec? {
        let keys = ["path", "content", "source", "permissions", "owner", "append", "defer"]
        guard let map = decoder.map(node, path, allowed: keys) else { return nil }
        guard let target = decoder.requiredString(map["path"], "\(path).path", parent: node) else { return nil }
        if !target.hasPrefix("/") {
            decoder.error("path must be absolute", map["path"], "\(path).path", allowed: "e.g. /etc/motd")
        }
        var content: Data?
        var binary = false
        switch (map["content"], map["source"]) {
        case (.some, .some):
            decoder.error("give content or source, not both", node, path)
        case (.some(let contentNode), nil):
            content = decoder.string(contentNode, "\(path).content").map { Data($0.utf8) }
        case (nil, .some):
            if let file = decoder.readFile(map["source"], "\(path).source") {
                content = file.data
                binary = String(data: file.data, encoding: .utf8) == nil || file.data.contains(0)
            }
        case (nil, nil):
            decoder.error("required key is missing: content or source", node, path)
        }
        guard let content else { return nil }
        var file = WriteFileSpec(path: target, content: content)
        file.binary = binary
        if let permissions = decoder.string(map["permissions"], "\(path).permissions") {
            if !TextPattern.matches(permissions, "^0?[0-7]{3,4}$") {
                decoder.error(
                    "'\(permissions)' is not an octal mode", map["permissions"], "\(path).permissions",
                    allowed: "a quoted octal string such as \"0644\"")
            } else {
                file.permissions = permissions.hasPrefix("0") ? permissions : "0" + permissions
            }
        }
        file.owner = decoder.string(map["owner"], "\(path).owner")
        if let owner = file.owner, !TextPattern.matches(owner, "^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$") {
            decoder.error("'\(owner)' is not user[:group]", map["owner"], "\(path).owner", allowed: "e.g. root:root")
        }
        file.append = decoder.bool(map["append"], "\(path).append") ?? false
        file.deferred = decoder.bool(map["defer"], "\(path).defer") ?? false
        return file
    }

    private mutating func decodeCommands(_ node: SpecNode?, _ path: String) -> [CommandSpec] {
        guard let items = decoder.list(node, path) else { return [] }
        var commands: [CommandSpec] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            switch item.kind {
            case .scalar(let text, _):
                commands.append(.shell(text))
            case .list:
                if let argv = decoder.stringList(item, itemPath), !argv.isEmpty { commands.append(.argv(argv)) }
            case .map:
                decoder.error("expected a command string or an argv list, found a map", item, itemPath)
            }
        }
        return commands
    }

    private mutating func decodePart(_ node: SpecNode, path: String, index: Int) -> MIMEPartSpec? {
        guard let map = decoder.map(node, path, allowed: ["type", "source", "content", "filename"]) else { return nil }
        guard let type = decoder.requiredString(map["type"], "\(path).type", parent: node) else { return nil }
        if !Self.partTypes.contains(type) {
            var hint = "one of: \(Self.partTypes.joined(separator: ", "))"
            if let suggestion = NameSuggestion.closest(to: type, in: Self.partTypes) {
                hint = "did you mean '\(suggestion)'?"
            }
            decoder.error("unknown MIME part type '\(type)'", map["type"], "\(path).type", allowed: hint)
        }
        var content: Data?
        var filename = decoder.string(map["filename"], "\(path).filename")
        switch (map["content"], map["source"]) {
        case (.some, .some):
            decoder.error("give content or source, not both", node, path)
        case (.some(let contentNode), nil):
            content = decoder.string(contentNode, "\(path).content").map { Data($0.utf8) }
        case (nil, .some(let sourceNode)):
            if let file = decoder.readFile(sourceNode, "\(path).source") {
                content = file.data
                if filename == nil { filename = (file.path as NSString).lastPathComponent }
            }
        case (nil, nil):
            decoder.error("required key is missing: source or content", node, path)
        }
        guard let content else { return nil }
        return MIMEPartSpec(type: type, filename: filename ?? "part-\(index + 1)", content: content)
    }
}
