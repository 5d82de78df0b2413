// Edit distance with transpositions, and what counts as a typo
// (verifier_spelling.hpp).
#include "verifier_spelling.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace sluice::cache {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

int edit_distance(std::string_view a, std::string_view b, int bound) noexcept {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > bound) return bound + 1;
  if (n > 64 || m > 64) return a == b ? 0 : bound + 1;
  std::array<int, 65> before{}, previous{}, row{};
  for (int j = 0; j <= m; ++j) previous[j] = j;
  for (int i = 1; i <= n; ++i) {
    row[0] = i;
    int best = row[0];
    for (int j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], before[j - 2] + 1);
      best = std::min(best, row[j]);
    }
    if (best > bound) return bound + 1;
    before = previous;
    previous = row;
  }
  return previous[m];
}

bool typo_of(std::string_view a, std::string_view b) noexcept {
  if (a == b || a.size() < 5 || b.size() < 5 || a[0] != b[0]) return false;
  const auto has_digit = [](std::string_view w) { return std::any_of(w.begin(), w.end(), digit); };
  if (has_digit(a) || has_digit(b)) return false;
  const int bound = std::min(a.size(), b.size()) >= 9 ? 2 : 1;
  return edit_distance(a, b, bound) <= bound;
}

bool typo(const Token& a, const Token& b) noexcept {
  return !(a.in_dictionary && b.in_dictionary) && typo_of(a.text, b.text);
}

bool name_typo(const Token& a, const Token& b) noexcept {
  if (std::min(a.text.size(), b.text.size()) < 6 || !typo(a, b)) return false;
  if (a.text.size() != b.text.size()) return true;
  std::array<int, 256> letters{};
  for (unsigned char c : a.text) ++letters[c];
  for (unsigned char c : b.text) --letters[c];
  return std::all_of(letters.begin(), letters.end(), [](int n) { return n == 0; });  // a transposition
}

}  // namespace sluice::cache
