#if os(Linux)
import CCurlLoader
import CurlProbe
import Foundation
import SeedgenTestSupport
import Testing

/// seedgen's static builds load libcurl on the first download (Sources/CCurlLoader); the library
/// must be found under the name the loader asks for, with every function URLSession calls.
@Suite struct CurlLoaderTests {
    @Test func libcurlAndEveryFunctionURLSessionNeedsAreFound() {
        let loaded = seedgen_curl_load()
        let error = seedgen_curl_load_error().map { String(cString: $0) }
        #expect(loaded == 1, "\(error ?? "")")
        #expect(error == nil)
    }
}

/// CCurlLoader gathers libcurl's 16 KiB body pieces into large blocks before URLSession's write
/// callback sees them. Debug test builds link Foundation dynamically, so URLSession there calls
/// libcurl itself; these tests drive the loader's functions directly, as URLSession does in the
/// static release binary (Tests/CurlProbe).
@Suite struct CurlWriteGatheringTests {
    let directory: TemporaryDirectory
    let served: Data
    let server: FaultServer

    init() throws {
        directory = try TemporaryDirectory()
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        served = try #require(try random.read(upToCount: 3 << 20))
        let www = directory.url.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: www, withIntermediateDirectories: true)
        try served.write(to: www.appendingPathComponent("body.bin"))
        server = try FaultServer(root: www)
    }

    func fetch(_ url: URL) throws -> (curl_probe_result, Data) {
        let output = directory.url.appendingPathComponent("received-\(UUID().uuidString)")
        var result = curl_probe_result()
        let status = curl_probe_fetch(url.absoluteString, output.path, &result)
        #expect(status == 0, "the probe's transfer did not end")
        return (result, try Data(contentsOf: output))
    }

    @Test func bodyArrivesWholeInOrderAndInLargeBlocks() throws {
        let (result, received) = try fetch(server.url("body.bin"))
        #expect(result.curl_code == 0)
        #expect(result.http_status == 200)
        #expect(received == served)
        #expect(result.bytes == served.count)
        // 3 MiB in 16 KiB pieces would be 192 calls; gathered, a call carries what one socket
        // wake-up read (up to 512 KiB) or a full 1 MiB block.
        #expect(result.callbacks < 48, "\(result.callbacks) calls")
        #expect(result.largest > 16 * 1024)
        #expect(result.late_calls == 0, "every block must be delivered before curl_multi_socket_action returns")
    }

    @Test func bytesBeforeAResetAreAllDeliveredBeforeTheTransferEnds() throws {
        let (result, received) = try fetch(server.url("body.bin", fault: "reset"))
        #expect(result.curl_code != 0, "a reset connection must fail the transfer")
        #expect(!received.isEmpty)
        #expect(received == served.prefix(received.count), "the delivered bytes must be the file's prefix")
        #expect(result.late_calls == 0)
    }

    @Test func shortBodyDeliversItsPrefix() throws {
        let (result, received) = try fetch(server.url("body.bin", fault: "truncate"))
        #expect(result.curl_code != 0, "a body shorter than Content-Length must fail the transfer")
        #expect(received.count == served.count / 2)
        #expect(received == served.prefix(received.count))
    }

    @Test func smallBodiesAndErrorPagesArriveUnchanged() throws {
        let (notFound, page) = try fetch(server.url("missing.bin"))
        #expect(notFound.http_status == 404)
        #expect(notFound.curl_code == 0)
        #expect(notFound.bytes == page.count)
        try Data("tiny".utf8).write(to: directory.url.appendingPathComponent("www/tiny.txt"))
        let (tiny, text) = try fetch(server.url("tiny.txt"))
        #expect(tiny.curl_code == 0)
        #expect(String(decoding: text, as: UTF8.self) == "tiny")
        #expect(tiny.callbacks == 1)
    }
}
#endif
