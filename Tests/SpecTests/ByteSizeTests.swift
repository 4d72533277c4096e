import SeedgenCore
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512M", ByteSize.DefaultUnit.mebibytes, UInt64(512) << 20),
        ("2G", .mebibytes, UInt64(2) << 30),
        ("2GiB", .mebibytes, UInt64(2) << 30),
        ("2048", .mebibytes, UInt64(2048) << 20),
        ("20", .gibibytes, UInt64(20) << 30),
        ("1.5G", .gibibytes, UInt64(1536) << 20),
        ("1T", .gibibytes, UInt64(1) << 40),
    ])
    func parsesSizes(text: String, unit: ByteSize.DefaultUnit, bytes: UInt64) {
        #expect(ByteSize.parse(text, defaultUnit: unit)?.bytes == bytes)
    }

    @Test(arguments: ["", "G", "2X", "-1G", "two", "0.0000001M"])
    func rejectsNonSizes(text: String) {
        // The last one is a fraction of a byte.
        #expect(ByteSize.parse(text, defaultUnit: .gibibytes) == nil)
    }

    @Test func qmSizeUsesTheLargestWholeUnit() {
        #expect(ByteSize.gibibytes(20).qmSize == "20G")
        #expect(ByteSize.mebibytes(1536).qmSize == "1536M")
    }
}
