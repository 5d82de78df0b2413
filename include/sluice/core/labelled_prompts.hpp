// Files of labelled prompts (JSON lines): the router's knn examples, and
// what its evaluation and calibration tools read. One object a line:
//   {"prompt": "...", "tier": "low"}
//   {"messages": [{"role": "user", "content": "..."}, ...], "tier": "high", "kind": "multi-turn"}
// `content` is a string or an array of parts whose text parts are joined;
// `tier` may be left out where no label is needed (calibration); `kind` and
// `note` are free text. Blank lines are skipped; any other key is a problem.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/config.hpp"

namespace sluice {

struct LabelledPrompts {
  std::vector<LabelledPrompt> prompts;
  std::vector<std::string> problems;  // "line 3: expected a JSON object"; empty when all is well
};

inline constexpr std::size_t kMaxLabelledFileBytes = 64u << 20;

// Parses JSON-lines text. Every line is checked; problems name the line.
LabelledPrompts parse_labelled_prompts(std::string_view text);

// Reads and parses a file; an unreadable file or one over
// kMaxLabelledFileBytes is one problem without a line.
LabelledPrompts read_labelled_prompts(const std::string& path);

// The request a labelled prompt stands for: a chat call with its messages.
LlmRequest request_of(const LabelledPrompt& prompt);

}  // namespace sluice
