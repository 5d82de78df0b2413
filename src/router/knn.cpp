// The knn vote (knn.hpp).
#include "knn.hpp"

#include <algorithm>

namespace sluice::router {

namespace {
constexpr std::size_t kKnnTextBytes = 8 * 1024;
}

namespace {

std::string_view last_user_text(const std::vector<Message>& messages) {
  std::string_view text;
  for (const Message& m : messages)
    if (m.role == "user") text = m.text;
  if (text.empty() && !messages.empty()) text = messages.back().text;
  return text;
}

}  // namespace

std::string_view knn_text(const LlmRequest& req) {
  std::string_view text = last_user_text(req.messages);
  if (text.empty() && !req.inputs.empty()) text = req.inputs.front();
  return text.substr(0, kKnnTextBytes);
}

KnnVoter::KnnVoter(const std::vector<LabelledPrompt>& examples, const std::vector<RouterTier>& tiers, int k,
                   const Embedder& embedder)
    : tier_count_(tiers.size()), k_(k), embedder_(embedder) {
  for (const LabelledPrompt& example : examples) {
    const auto tier = std::find_if(tiers.begin(), tiers.end(), [&](const RouterTier& t) { return t.name == example.tier; });
    if (tier == tiers.end()) continue;
    examples_.push_back({embedder_.embed(last_user_text(example.messages).substr(0, kKnnTextBytes)),
                         static_cast<std::size_t>(tier - tiers.begin())});
  }
}

Vote KnnVoter::vote(std::string_view text) const {
  Vote v;
  if (examples_.empty() || tier_count_ == 0) return v;
  const std::vector<float> query = embedder_.embed(text);
  std::vector<std::pair<float, std::size_t>> scored;  // (similarity, tier)
  scored.reserve(examples_.size());
  for (const Example& e : examples_) scored.emplace_back(cosine(query, e.vector), e.tier);
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(k_), scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(k), scored.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<double> weight(tier_count_, 0.0);
  std::vector<int> count(tier_count_, 0);
  double total = 0, moment = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const double w = std::max(0.0f, scored[i].first) + 1e-6;  // a zero similarity still counts a little
    weight[scored[i].second] += w;
    ++count[scored[i].second];
    total += w;
    moment += w * static_cast<double>(scored[i].second);
  }
  for (std::size_t t = 0; t < tier_count_; ++t)
    if (weight[t] >= weight[v.tier]) v.tier = t;  // >=: a tie goes to the stronger tier
  v.agreeing = count[v.tier];
  v.neighbours = static_cast<int>(k);
  v.position = tier_count_ > 1 && total > 0 ? moment / total / static_cast<double>(tier_count_ - 1) : 0;
  return v;
}

}  // namespace sluice::router
