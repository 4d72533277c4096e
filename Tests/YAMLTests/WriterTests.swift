import Foundation
import SeedgenYAML
import Testing

@Suite struct WriterTests {
    /// Scalars are written as the user wrote them when that reads back the same, quoted or
    /// tagged only where PyYAML would read something else.
    @Test func scalarsAreWrittenAsWrittenQuotedOrTaggedWhereNeeded() throws {
        let text = """
            octal: 0755
            string_octal: 0o600
            sexagesimal: 1:20
            quoted_yes: 'yes'
            date: 2001-12-14
            binary: !!binary aGVsbG8=
            int_from_string: !!int "12"
            str_from_int: !!str 12
            nothing: ~
            set: !!set {a, b}
            1: one
            false: yes

            """
        let node = try #require(try YAMLReader.read(text))
        let written = try YAMLWriter.write(node)
        #expect(
            written == """
                octal: 0755
                string_octal: 0o600
                sexagesimal: 1:20
                quoted_yes: 'yes'
                date: 2001-12-14
                binary: !!binary aGVsbG8=
                int_from_string: 12
                str_from_int: '12'
                nothing: null
                set: !!set
                  a: null
                  b: null
                1: one
                false: true

                """)
        let reread = try #require(try YAMLReader.read(written))
        #expect(reread == node)
    }
}
