// fuzz_replay [CORPUS_ROOT] [TARGET...]: runs every file of
// CORPUS_ROOT/<target>/ through its fuzz target, built without libFuzzer (see
// fuzz_target.h). Exits non-zero if a corpus folder is missing or empty; a
// crash or failed check aborts. CTest runs it over tests/fuzz/corpus.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz_target.h"

namespace photosearch::fuzz {

std::map<std::string, TargetFn>& Registry() {
  static std::map<std::string, TargetFn> registry;
  return registry;
}

bool Register(const char* name, TargetFn fn) {
  Registry()[name] = fn;
  return true;
}

}  // namespace photosearch::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using photosearch::fuzz::Registry;
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_replay CORPUS_ROOT [TARGET...]\n");
    return 2;
  }
  const fs::path root = argv[1];
  std::map<std::string, photosearch::fuzz::TargetFn> targets;
  for (int i = 2; i < argc; ++i) {
    auto it = Registry().find(argv[i]);
    if (it == Registry().end()) {
      std::fprintf(stderr, "fuzz_replay: no target '%s'\n", argv[i]);
      return 2;
    }
    targets.insert(*it);
  }
  if (targets.empty()) targets = Registry();
  int failures = 0;
  size_t total = 0;
  for (const auto& [name, fn] : targets) {
    const fs::path dir = root / name;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::fprintf(stderr, "fuzz_replay: %s: no corpus in %s\n", name.c_str(), dir.c_str());
      ++failures;
      continue;
    }
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      fn(data);
    }
    std::printf("%-20s %4zu inputs replayed\n", name.c_str(), files.size());
    total += files.size();
  }
  std::printf("fuzz_replay: %zu inputs, %zu targets, %d without corpus\n", total, targets.size(),
              failures);
  return failures == 0 ? 0 : 1;
}
