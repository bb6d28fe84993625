// Lowers the calling thread's CPU priority (and that of the threads it starts
// from now on, which inherit it): background work that must yield to the
// process's latency-bound threads. `nice` 1..19; at 19 the thread also moves
// to SCHED_IDLE, so it runs only on cores nothing else wants. Lowering is
// always allowed; failures are ignored (the work still runs).
#pragma once

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

namespace photosearch {

inline void LowerThisThreadPriority(int nice) {
  if (nice <= 0) return;
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
  if (nice >= 19) {
    sched_param param{};
    (void)::sched_setscheduler(0, SCHED_IDLE, &param);
  }
}

}  // namespace photosearch
