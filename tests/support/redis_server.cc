#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "support/etcd_server.h"

namespace photosearch::testing {
namespace {

// One PING over a fresh connection; true on +PONG.
bool Ping(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, "PING\r\n", 6) == 6) {
    char buffer[16] = {};
    ok = read(fd, buffer, sizeof(buffer) - 1) >= 5 && std::string(buffer, 5) == "+PONG";
  }
  close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<ChildProcess> StartRedis(const std::string& data_dir, int* port, int fixed_port) {
  std::filesystem::create_directories(data_dir);
  const int p = fixed_port > 0 ? fixed_port : FreeLoopbackPort();
  auto child = std::make_unique<ChildProcess>(std::vector<std::string>{
      "/usr/bin/redis-server", "--port", std::to_string(p), "--bind", "127.0.0.1", "--dir",
      data_dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize",
      "no", "--protected-mode", "yes", "--loglevel", "warning"});
  *port = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Ping(p)) {
      *port = p;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return child;
}

}  // namespace photosearch::testing
