import Foundation

/// Test input with position markers, in the style of swift-format's tests: `⟨1⟩` marks where a
/// diagnostic is expected. The markers are removed and their 1-based line/column recorded.
public struct MarkedText {
    public var text: String
    public var markers: [String: (line: Int, column: Int)] = [:]

    public init(_ marked: String) {
        var output = ""
        var line = 1
        var column = 1
        var index = marked.startIndex
        while index < marked.endIndex {
            if marked[index] == "⟨", let close = marked[index...].firstIndex(of: "⟩") {
                let name = String(marked[marked.index(after: index)..<close])
                markers[name] = (line, column)
                index = marked.index(after: close)
                continue
            }
            let character = marked[index]
            output.append(character)
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index = marked.index(after: index)
        }
        text = output
    }
}
