import Foundation

/// File arguments as a shell would give them, plus glob patterns the shell did not expand
/// (quoted in a CI script, or on a shell without globbing).
public enum FileArguments {
    public static func expand(_ arguments: [String]) throws(SeedgenError) -> [String] {
        var files: [String] = []
        for argument in arguments {
            guard argument.contains(where: { "*?[".contains($0) }), !FileManager.default.fileExists(atPath: argument)
            else {
                files.append(argument)
                continue
            }
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(argument, 0, nil, &result) == 0 else {
                throw .usage("no file matches \(argument)")
            }
            for index in 0..<Int(result.gl_pathc) {
                if let path = result.gl_pathv[index] { files.append(String(cString: path)) }
            }
        }
        return files
    }
}
