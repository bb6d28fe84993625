// Raw bytes as one HTTP request to `POST /v1/search`, read by cpp-httplib's
// server (request line, headers, Content-Length and chunked bodies, multipart
// form data) and handed to the same request parsing and photo decoding as
// `photosearch serve`. Checks: every response is an HTTP status the API
// documents, never a 5xx.
#include <httplib.h>

#include <string>

#include "fuzz_target.h"
#include "gateway/search_request.h"
#include "image/decode.h"

namespace {

using photosearch::fuzz::FuzzCheck;

// Reads the input, discards what the server writes.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view data) : data_(data) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, data_.size() - offset_);
    std::copy(data_.data() + offset_, data_.data() + offset_ + n, ptr);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (written_.size() < 64) written_.append(ptr, std::min<size_t>(size, 64));
    return static_cast<ssize_t>(size);
  }
  // The start of what the server wrote: "HTTP/1.1 400 Bad Request...".
  const std::string& written() const { return written_; }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  std::string_view data_;
  size_t offset_ = 0;
  std::string written_;
};

class FuzzServer : public httplib::Server {
 public:
  FuzzServer() {
    set_payload_max_length(1 << 20);
    Post("/v1/search", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 200;
      if (photosearch::SearchBodyOf(photosearch::MediaTypeOf(req)) ==
          photosearch::SearchBody::kUnsupported) {
        res.status = 415;
        return;
      }
      auto request = photosearch::ParseSearchHttpRequest(req, 10, photosearch::SearchLimits{});
      if (!request.ok()) {
        FuzzCheck(request.status().code() == absl::StatusCode::kInvalidArgument,
                  "request refused with a code other than kInvalidArgument");
        res.status = 400;
        return;
      }
      FuzzCheck(request->k >= 1 && request->k <= 1000, "k out of range accepted");
      if (!request->image.empty()) {
        photosearch::DecodeOptions options;
        options.limits.max_pixels = 4'000'000;
        options.min_side = 256;
        auto image = photosearch::DecodeImage(request->image, options);
        res.status = image.ok() ? 200 : 400;
      }
    });
    set_exception_handler([](const httplib::Request&, httplib::Response&, std::exception_ptr) {
      FuzzCheck(false, "a handler threw");
    });
  }
  // The status the server answered `data` with, or 0 if it wrote nothing.
  int Process(std::string_view data) {
    MemoryStream stream(data);
    bool closed = false;
    process_request(stream, /*close_connection=*/true, closed, nullptr);
    const std::string& out = stream.written();
    if (out.size() < 12 || out.compare(0, 5, "HTTP/") != 0) return 0;
    return std::atoi(out.c_str() + 9);
  }
};

}  // namespace

PHOTOSEARCH_FUZZ_TARGET(http_search) {
  static FuzzServer* server = new FuzzServer();
  int status = server->Process(data);
  FuzzCheck(status < 500, "the server answered with a 5xx");
}
