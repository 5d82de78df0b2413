// The order-aware alignment (verifier_rules.hpp): every content word of one
// prompt is matched in the other, then the matched words must keep their
// roles. Bag-of-words matching alone passes "from X to Y" / "from Y to X"
// and "X beat Y" / "Y beat X"; the role and pivot checks below catch them.
#include <algorithm>
#include <array>
#include <utility>

#include "verifier_rules.hpp"
#include "verifier_spelling.hpp"

namespace sluice::cache::rules {

namespace {

bool content(const Token& t) { return !t.ignored && !t.number && t.kind == words::Class::content; }

// "into", "onto", "towards" give the same role as "to".
std::string_view direction_role(std::string_view word) {
  if (word == "into" || word == "onto" || word == "unto" || word == "toward" || word == "towards" || word == "till")
    return "to";
  return word;
}

bool joined_as(std::string_view whole, std::string_view left, std::string_view right) {
  return whole.size() == left.size() + right.size() && whole.starts_with(left) && whole.ends_with(right);
}

// Where `t` (of the other prompt) is matched in `p`: the same word or base
// form, a WordNet synonym, a typo, or two adjacent words written as one
// ("set up" / "setup"). A repeated word matches its next occurrence after
// `from` (where the previous word matched). -1 when nothing matches.
int match(const Token& t, std::size_t t_index, const Prompt& other, const Prompt& p, const Lexicon& lexicon, int from) {
  if (const int same = p.find(t, from); same >= 0) return same;
  const auto& tokens = p.tokens();
  for (std::size_t j = 0; j < tokens.size() && t.has_senses; ++j) {
    const Token& u = tokens[j];
    if (!content(u) || !u.has_senses) continue;
    for (int x = 0; x < t.key_count; ++x)
      for (int y = 0; y < u.key_count; ++y)
        if (lexicon.synonyms(t.keys[x], u.keys[y])) return static_cast<int>(j);
  }
  for (std::size_t j = 0; j < tokens.size(); ++j)
    if (content(tokens[j]) && typo(t, tokens[j])) return static_cast<int>(j);
  for (std::size_t j = 0; j + 1 < tokens.size(); ++j)
    if (!tokens[j].ignored && !tokens[j + 1].ignored && joined_as(t.text, tokens[j].text, tokens[j + 1].text))
      return static_cast<int>(j);
  // `t` and its neighbour in its own prompt written as one word here.
  const auto& own = other.tokens();
  for (const Token& u : tokens) {
    if (!content(u)) continue;
    if (t_index + 1 < own.size() && joined_as(u.text, t.text, own[t_index + 1].text)) return static_cast<int>(&u - tokens.data());
    if (t_index > 0 && joined_as(u.text, own[t_index - 1].text, t.text)) return static_cast<int>(&u - tokens.data());
  }
  return -1;
}

// The direction word each content word follows ("to the Sun": the Sun's
// role is "to"); "" for none. A frame word ("how to explain") ends a role.
void roles(const Prompt& p, std::vector<std::string_view>& out) {
  out.assign(p.tokens().size(), {});
  std::string_view pending;
  for (std::size_t i = 0; i < p.tokens().size(); ++i) {
    const Token& t = p.tokens()[i];
    if (t.ignored) continue;
    if (t.kind == words::Class::direction) pending = direction_role(t.text);
    else if (t.kind == words::Class::frame) pending = {};
    else if (content(t) || t.number) out[i] = std::exchange(pending, {});
  }
}

struct Scratch {
  std::vector<std::pair<int, int>> matched;  // (token of a, token of b), in a's order
  std::vector<std::string_view> roles_a, roles_b;
};

std::string_view align_one_way(const Prompt& a, const Prompt& b, const Lexicon& lexicon, Scratch& s,
                               std::string& detail) {
  s.matched.clear();
  for (std::size_t i = 0; i < a.tokens().size(); ++i) {
    const Token& t = a.tokens()[i];
    if (!content(t)) continue;
    const int j = match(t, i, a, b, lexicon, s.matched.empty() ? 0 : s.matched.back().second + 1);
    if (j < 0) {
      detail = quoted(t.text) + " has no match";
      return "alignment";
    }
    s.matched.emplace_back(static_cast<int>(i), j);
  }
  // Roles: a word that left a direction's role while another word took it
  // ("Fahrenheit to Celsius" / "Celsius to Fahrenheit"). A role on one side
  // only is a rewording ("distance from A to B" / "how far is B from A").
  roles(a, s.roles_a);
  roles(b, s.roles_b);
  std::array<std::pair<std::string_view, int>, 16> changed{};  // role, bit 1: lost by a word, bit 2: taken
  std::size_t n = 0;
  auto note = [&](std::string_view role, int bit) {
    if (role.empty()) return false;
    for (std::size_t k = 0; k < n; ++k)
      if (changed[k].first == role) return ((changed[k].second |= bit) == 3);
    if (n < changed.size()) changed[n++] = {role, bit};
    return false;
  };
  for (const auto& [i, j] : s.matched) {
    const std::string_view ra = s.roles_a[i], rb = s.roles_b[j];
    if (ra == rb) continue;
    if (note(ra, 1) || note(rb, 2)) {
      detail = quoted(a.tokens()[i].text) + " changed its role around " + quoted(ra.empty() ? rb : ra);
      return "order";
    }
  }
  // Pivots: X and Y swap sides around a word that stays between them
  // ("Germany beat Brazil" / "Brazil beat Germany"). A clause moved as a
  // whole has no such pivot. Pairs up to 8 content words apart: linear.
  const std::size_t m = s.matched.size();
  for (std::size_t x = 0; x < m; ++x)
    for (std::size_t z = x + 2; z < m && z <= x + 8; ++z) {
      const int bx = s.matched[x].second, bz = s.matched[z].second;
      if (bx <= bz) continue;
      for (std::size_t y = x + 1; y < z; ++y) {
        const int by = s.matched[y].second;
        if (bz < by && by < bx) {
          detail = quoted(a.tokens()[s.matched[x].first].text) + " and " +
                   quoted(a.tokens()[s.matched[z].first].text) + " swapped around " +
                   quoted(a.tokens()[s.matched[y].first].text);
          return "order";
        }
      }
    }
  return {};
}

}  // namespace

std::string_view align(const Prompt& a, const Prompt& b, const Lexicon& lexicon, std::string& detail) {
  thread_local Scratch scratch;
  const std::string_view rule = align_one_way(a, b, lexicon, scratch, detail);
  return rule.empty() ? align_one_way(b, a, lexicon, scratch, detail) : rule;
}

}  // namespace sluice::cache::rules
