// Test support: Debian's redis-server (7) on loopback, persisting to a
// scratch folder (appendonly, fsync always), so that a restart keeps the
// streams, groups and pending lists as a production server would.
#pragma once

#include <memory>
#include <string>

#include "support/test_env.h"

namespace photosearch::testing {

// Starts redis-server storing in `data_dir` on 127.0.0.1:`fixed_port` (a
// free port when 0); waits up to 20 s for PING. Sets *port, or -1 if it did
// not answer. Start it again with the same folder and port to restart it.
std::unique_ptr<ChildProcess> StartRedis(const std::string& data_dir, int* port,
                                         int fixed_port = 0);

}  // namespace photosearch::testing
