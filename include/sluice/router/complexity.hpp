// The complexity score: how much model a request needs, from what the
// request shows, in one pass over its text and without any network call.
// Pure and deterministic; about a microsecond per KiB of task text
// (bench/router_bench.cpp).
//
// What counts is the task rather than pasted material: the last user turn
// is split into the instruction (short paragraphs at its start and end that
// ask something) and the material around it (code, logs, transcripts,
// articles), and cue words are read from the instruction only. The cues:
// proof and math, code and what is asked of it, design and analysis,
// concurrency, how many things are asked and under which constraints, the
// requested output size (max_tokens, "a 2000-word essay"), tools offered,
// the conversation's depth, the language; and the signs of an easy task
// ("fix the typo", "in one word", a greeting).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/request.hpp"

namespace sluice::router {

// The cues a request showed; each names a reason.
enum Cue : std::uint32_t {
  kCueProof = 1u << 0,         // "proof"
  kCueMath = 1u << 1,          // "math"
  kCueCode = 1u << 2,          // "code": code in the request or asked for
  kCueDesign = 1u << 3,        // "design": architecture, distributed systems, trade-offs
  kCueConcurrency = 1u << 4,   // "concurrency"
  kCueAnalysis = 1u << 5,      // "analysis": diagnose, optimise, evaluate, security
  kCueMultiStep = 1u << 6,     // "multi-step": several distinct things asked
  kCueConstraints = 1u << 7,   // "constraints"
  kCueLongOutput = 1u << 8,    // "long-output"
  kCueTools = 1u << 9,         // "tools"
  kCueConversation = 1u << 10, // "conversation": a deep one
  kCueLanguage = 1u << 11,     // "language": not English
  kCueExplain = 1u << 12,      // "explain": explanations, comparisons, drafting
  kCueSimple = 1u << 13,       // "simple": an easy ask
  kCueBrief = 1u << 14,        // "brief": a short answer asked for
  kCuePasted = 1u << 15,       // "pasted": material around the instruction
  kCueLongTask = 1u << 16,     // "long-task": a long instruction
};

struct Assessment {
  struct Part {
    Cue cue;
    double logit;  // what the cue added to the score's logit (negative: toward easy)
  };
  double score = 0;          // 0 (trivial) .. 1 (hardest)
  std::uint32_t cues = 0;    // Cue bits that fired
  std::array<Part, 20> parts{};
  std::size_t part_count = 0;
  std::size_t task_bytes = 0;      // of the last turn, read as the instruction
  std::size_t material_bytes = 0;  // of the last turn, read as pasted material
};

Assessment assess(const LlmRequest& req);

// The reason, short and header-safe: the two cues that pushed the score
// hardest toward hard work ("code+multi-step"), or with `toward_easy`
// toward easy work ("simple+brief"); "plain" when none did.
std::string reason(const Assessment& a, bool toward_easy);

// A cue's name as reasons use it.
std::string_view cue_name(Cue cue);

}  // namespace sluice::router
