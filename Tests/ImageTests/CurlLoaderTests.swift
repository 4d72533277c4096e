#if os(Linux)
import CCurlLoader
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
#endif
