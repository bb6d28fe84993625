#include "support/http_client.h"

#include <httplib.h>

namespace photosearch::testing {

struct HttpClient::Impl {
  explicit Impl(int port) : client("127.0.0.1", port) {
    client.set_tcp_nodelay(true);
    client.set_keep_alive(true);
    client.set_read_timeout(60, 0);
  }
  httplib::Client client;
};

namespace {

HttpReply ToReply(const httplib::Result& result) {
  HttpReply reply;
  if (!result) return reply;
  reply.status = result->status;
  reply.body = result->body;
  reply.content_type = result->get_header_value("Content-Type");
  return reply;
}

}  // namespace

HttpClient::HttpClient(int port) : impl_(new Impl(port)) {}
HttpClient::~HttpClient() = default;

HttpReply HttpClient::Get(const std::string& path) { return ToReply(impl_->client.Get(path)); }

HttpReply HttpClient::Post(const std::string& path, const std::string& body,
                           const std::string& content_type) {
  return ToReply(impl_->client.Post(path, body, content_type));
}

HttpReply HttpClient::PostFile(const std::string& path, const std::string& field,
                               const std::string& bytes, const std::string& content_type) {
  httplib::MultipartFormDataItems items = {{field, bytes, "photo", content_type}};
  return ToReply(impl_->client.Post(path, items));
}

}  // namespace photosearch::testing
