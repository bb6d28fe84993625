// A small HTTP client for tests and benchmarks against a server on loopback.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace photosearch::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (connection failed)
  std::string body;
  std::string content_type;
};

class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpReply Get(const std::string& path);
  HttpReply Post(const std::string& path, const std::string& body, const std::string& content_type);
  // multipart/form-data with one file field.
  HttpReply PostFile(const std::string& path, const std::string& field, const std::string& bytes,
                     const std::string& content_type);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace photosearch::testing
