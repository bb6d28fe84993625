// LabelSet: a set of labels 0..universe-1 as a bitset; the labels a search
// must skip (items deleted by tombstones) travel in SearchParams::exclude.
//
// Thread-safety: const methods are thread-safe; a set that searches read is
// never changed (a new one replaces it: see serving/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace photosearch {

class LabelSet {
 public:
  explicit LabelSet(int64_t universe = 0)
      : universe_(universe), words_(static_cast<size_t>((universe + 63) / 64), 0) {}

  bool contains(int64_t label) const {
    return label >= 0 && label < universe_ &&
           ((words_[static_cast<size_t>(label >> 6)] >> (label & 63)) & 1) != 0;
  }
  // Adds `label`; returns false if it was there (or is outside the universe).
  bool insert(int64_t label) {
    if (label < 0 || label >= universe_) return false;
    uint64_t& word = words_[static_cast<size_t>(label >> 6)];
    const uint64_t bit = uint64_t{1} << (label & 63);
    if (word & bit) return false;
    word |= bit;
    ++count_;
    return true;
  }
  int64_t count() const { return count_; }
  int64_t universe() const { return universe_; }
  bool empty() const { return count_ == 0; }

 private:
  int64_t universe_ = 0;
  std::vector<uint64_t> words_;
  int64_t count_ = 0;
};

}  // namespace photosearch
