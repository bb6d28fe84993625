#include "support/etcd_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace photosearch::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::unique_ptr<ChildProcess> StartEtcd(const std::string& data_dir, int* client_port,
                                        int fixed_port, int peer_port) {
  const int port = fixed_port > 0 ? fixed_port : FreeLoopbackPort();
  int peer = peer_port > 0 ? peer_port : FreeLoopbackPort();
  while (peer == port) peer = FreeLoopbackPort();
  const std::string client_url = "http://127.0.0.1:" + std::to_string(port);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
  auto child = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/etcd",
                               "--name",
                               "t",
                               "--data-dir",
                               data_dir,
                               "--listen-client-urls",
                               client_url,
                               "--advertise-client-urls",
                               client_url,
                               "--listen-peer-urls",
                               peer_url,
                               "--initial-advertise-peer-urls",
                               peer_url,
                               "--initial-cluster",
                               "t=" + peer_url,
                               "--logger",
                               "zap",
                               "--log-level",
                               "error",
                               "--experimental-watch-progress-notify-interval",
                               "1s"});
  httplib::Client probe("127.0.0.1", port);
  probe.set_connection_timeout(std::chrono::milliseconds(500));
  probe.set_read_timeout(std::chrono::seconds(1));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  *client_port = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    // "AA==" is the key "\0": any answer from the key-value store will do.
    auto result = probe.Post("/v3/kv/range", R"({"key":"AA=="})", "application/json");
    if (result && result->status == 200) {
      *client_port = port;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return child;
}

}  // namespace photosearch::testing
