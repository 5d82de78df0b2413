// The knn vote: the labelled examples nearest a request's text, by cosine
// similarity of their embeddings, vote on its tier, each with its similarity
// as weight. Brute force over the examples (a few hundred to a few
// thousand: microseconds to a millisecond). Private to the router.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/embedder.hpp"

namespace sluice::router {

struct Vote {
  std::size_t tier = 0;   // the winner; ties go to the stronger tier
  int agreeing = 0;       // neighbours that voted for it
  int neighbours = 0;     // k, or fewer when there are fewer examples
  double position = 0;    // similarity-weighted mean tier position, 0 (first) .. 1 (last)
};

class KnnVoter {
 public:
  // Embeds every example whose tier is one of `tiers`; `embedder` must outlive the voter.
  KnnVoter(const std::vector<LabelledPrompt>& examples, const std::vector<RouterTier>& tiers, int k,
           const Embedder& embedder);

  Vote vote(std::string_view text) const;

 private:
  struct Example {
    std::vector<float> vector;
    std::size_t tier;
  };
  std::vector<Example> examples_;
  std::size_t tier_count_;
  int k_;
  const Embedder& embedder_;
};

// The text a request is embedded by: its last user turn, bounded.
std::string_view knn_text(const LlmRequest& req);

}  // namespace sluice::router
