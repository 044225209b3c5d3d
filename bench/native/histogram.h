// A log-linear latency histogram (32 sub-buckets per power of two, so any
// percentile is within ~3% of the true value). Recording is a few integer
// ops with no allocation, which matters at a million samples per second;
// keeping every sample would cost 40 MB per 10 s and a sort.
#pragma once

#include <cstdint>
#include <vector>

namespace vbench {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  // Values below kSub get exact buckets; then 59 octaves of kSub buckets each.
  static constexpr int kBuckets = kSub + (64 - kSubBits) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void Record(uint64_t ns) {
    counts_[Index(ns)]++;
    total_++;
    sum_ += ns;
  }

  void Merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; i++) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
  }

  uint64_t Count() const { return total_; }
  double Mean() const { return total_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(total_); }

  // The value at quantile q in [0, 1] (a bucket's midpoint); 0 when empty.
  double Quantile(double q) const {
    if (total_ == 0) return 0.0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; i++) {
      seen += counts_[i];
      if (seen > rank) return Midpoint(i);
    }
    return Midpoint(kBuckets - 1);
  }

 private:
  static int Index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    const int octave = 63 - __builtin_clzll(v);  // >= kSubBits
    const int shift = octave - kSubBits;
    const int mantissa = static_cast<int>(v >> shift) - kSub;  // in [0, kSub)
    return kSub + shift * kSub + mantissa;
  }

  static double Midpoint(int index) {
    if (index < kSub) return index;
    const int shift = (index - kSub) / kSub;
    const uint64_t mantissa = static_cast<uint64_t>((index - kSub) % kSub + kSub);
    const uint64_t low = mantissa << shift;
    return static_cast<double>(low) + static_cast<double>((uint64_t{1} << shift) - 1) / 2.0;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace vbench
