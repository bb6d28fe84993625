// Test support: where the shared assets, the source tree and the photosearch
// binary are, scratch directories, and child processes (servers under test).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace photosearch::testing {

// ../shared/assets, or $PHOTOSEARCH_ASSETS.
std::string AssetsDir();
// The source tree (for models/ and web/).
std::string SourceDir();
// The photosearch binary under test ($PHOTOSEARCH_BIN, set by CTest).
std::string PhotosearchBin();
// The default model manifest in the source tree.
std::string DefaultModel();

// A fresh directory, removed with everything in it when destroyed.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with its stdout piped to us (stderr passes through).
// The destructor sends SIGTERM, waits up to 10 s, then SIGKILLs.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout lines until one contains `needle`; returns that line, or ""
  // if the process closed stdout or `timeout` passed first.
  std::string WaitForLine(const std::string& needle, std::chrono::milliseconds timeout);
  // Sends `signal` and waits for the exit; returns the exit status as
  // waitpid reports it, or -1 on timeout.
  int Stop(int signal, std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool exited_ = false;
};

// Runs a command to completion with stdout and stderr captured; returns the
// exit code (or -1) and fills `output`.
int RunCommand(const std::vector<std::string>& argv, std::string* output);

// Waits for the "listening on HOST:PORT" line an index server or an ingest
// prints and returns HOST:PORT ("" if it did not come within `timeout`).
std::string WaitForGrpcAddress(ChildProcess& child, std::chrono::milliseconds timeout);

// Starts `photosearch serve --port 0` on loopback with `extra_args`; sets
// *port to the port it reports, or -1 if it did not start within 180 s.
std::unique_ptr<ChildProcess> StartServe(const std::vector<std::string>& extra_args, int* port);

// Starts an S3-compatible server (s3rver, from tests/web's npm packages) on
// loopback, storing in `data_dir`, with `bucket` created; sets *port (-1 if
// it did not start within 30 s) and points AWS_ENDPOINT_URL and credentials in
// this process's environment at it.
std::unique_ptr<ChildProcess> StartS3Server(const std::string& data_dir, const std::string& bucket,
                                            int* port);

}  // namespace photosearch::testing
