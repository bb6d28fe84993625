#include "support/test_env.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <regex>
#include <stdexcept>

namespace photosearch::testing {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::vector<char*> ArgvOf(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string AssetsDir() {
  return EnvOr("PHOTOSEARCH_ASSETS", EnvOr("PHOTOSEARCH_ASSETS_DEFAULT", PS_DEFAULT_ASSETS));
}
std::string SourceDir() { return EnvOr("PHOTOSEARCH_SOURCE_DIR", PS_DEFAULT_SOURCE_DIR); }
std::string PhotosearchBin() { return EnvOr("PHOTOSEARCH_BIN", PS_DEFAULT_BIN); }
std::string DefaultModel() { return SourceDir() + "/models/mobilenetv2/model.json"; }

ScratchDir::ScratchDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::path candidate = base / ("photosearch-test-" + std::to_string(getpid()) + "-" +
                                              std::to_string(rd() % 1000000));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate.string();
      return;
    }
  }
  throw std::runtime_error("cannot create a scratch directory");
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> args = ArgvOf(argv);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  stdout_fd_ = pipefd[0];
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    if (Stop(SIGTERM, std::chrono::seconds(10)) == -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::string ChildProcess::WaitForLine(const std::string& needle,
                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t newline;
    while ((newline = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;
    char chunk[4096];
    ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
    if (n <= 0) return "";
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

int ChildProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (exited_) return 0;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      return status;
    }
    usleep(20000);
  }
  return -1;
}

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  std::vector<char*> args = ArgvOf(argv);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  output->clear();
  char chunk[4096];
  ssize_t n;
  while ((n = read(pipefd[0], chunk, sizeof(chunk))) > 0)
    output->append(chunk, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::unique_ptr<ChildProcess> StartServe(const std::vector<std::string>& extra_args, int* port) {
  std::vector<std::string> argv = {PhotosearchBin(), "serve", "--port", "0", "--host", "127.0.0.1"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto child = std::make_unique<ChildProcess>(argv);
  // Model load and batch calibration: seconds alone, a minute or more on a
  // loaded 2-core machine.
  std::string line = child->WaitForLine("listening on http://", std::chrono::seconds(180));
  size_t colon = line.rfind(':');
  *port = line.empty() || colon == std::string::npos ? -1 : std::atoi(line.c_str() + colon + 1);
  return child;
}

}  // namespace photosearch::testing

namespace photosearch::testing {

std::unique_ptr<ChildProcess> StartS3Server(const std::string& data_dir, const std::string& bucket,
                                            int* port) {
  auto child = std::make_unique<ChildProcess>(std::vector<std::string>{
      // --openssl-legacy-provider: s3rver's list continuation tokens use DES.
      "/usr/bin/env", "node", "--openssl-legacy-provider",
      SourceDir() + "/tests/web/node_modules/s3rver/bin/s3rver.js", "-d", data_dir, "-a",
      "127.0.0.1", "-p", "0", "--silent", "--configure-bucket", bucket});
  std::string line = child->WaitForLine("S3rver listening on", std::chrono::seconds(30));
  *port = line.empty() ? -1 : std::atoi(line.c_str() + line.rfind(':') + 1);
  if (*port > 0) {
    // This process and its children (photosearch) use these.
    setenv("AWS_ENDPOINT_URL", ("http://127.0.0.1:" + std::to_string(*port)).c_str(), 1);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("AWS_REGION", "us-east-1", 1);
  }
  return child;
}

std::string WaitForGrpcAddress(ChildProcess& child, std::chrono::milliseconds timeout) {
  static const std::regex kAddress(R"(listening on (127\.0\.0\.1:\d+))");
  std::string line = child.WaitForLine("listening on", timeout);
  std::smatch m;
  return std::regex_search(line, m, kAddress) ? m[1].str() : "";
}

}  // namespace photosearch::testing
