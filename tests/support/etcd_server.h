// Test support: a single-member etcd (Debian's /usr/bin/etcd, 3.4) on
// loopback, for discovery tests.
#pragma once

#include <memory>
#include <string>

#include "support/test_env.h"

namespace photosearch::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, then closed).
int FreeLoopbackPort();

// Starts etcd storing in `data_dir` on 127.0.0.1: clients on `fixed_port`
// and peers on `peer_port`, or on free ports where they are 0. Restart a
// stopped etcd by calling this again with the same data dir and ports.
// Waits (up to 20 s) until POST /v3/kv/range answers; sets *client_port to the
// client port, or -1 if etcd did not answer in time.
//
// Beside the usual flags it runs with --logger zap (quiet at --log-level
// error; the default capnslog logger prints raft's INFO lines anyway) and
// --experimental-watch-progress-notify-interval 1s (default 10 min), so
// watches get a progress notification every second while quiet.
std::unique_ptr<ChildProcess> StartEtcd(const std::string& data_dir, int* client_port,
                                        int fixed_port = 0, int peer_port = 0);

}  // namespace photosearch::testing
