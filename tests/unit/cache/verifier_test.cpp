// The verifier, rule by rule: for each rule a pair it must accept (a
// paraphrase that touches what the rule reads) and a pair it must reject
// for that rule's reason. Then symmetry, the lexicon without WordNet, and
// the bounds on work. The lexicon is loaded once for the whole suite.
#include "sluice/cache/verifier.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "support/growth.hpp"
#include "verifier_spelling.hpp"

namespace sluice::cache {
namespace {

const Verifier& verifier() {
  static const Verifier v = Verifier::load();
  return v;
}

bool wordnet() { return verifier().lexicon_warning().empty(); }

void expect_same(std::string_view a, std::string_view b) {
  const Verdict v = verifier().check(a, b);
  EXPECT_TRUE(v.same) << a << " | " << b << ": rejected by " << v.rule << " (" << v.detail << ")";
  EXPECT_TRUE(verifier().check(b, a).same) << "not symmetric: " << b << " | " << a;
}

void expect_rejected(std::string_view a, std::string_view b, std::string_view rule) {
  const Verdict v = verifier().check(a, b);
  EXPECT_FALSE(v.same) << a << " | " << b;
  EXPECT_EQ(v.rule, rule) << a << " | " << b << ": " << v.detail;
  const Verdict back = verifier().check(b, a);
  EXPECT_FALSE(back.same) << "not symmetric: " << b << " | " << a;
}

TEST(VerifierTest, IdenticalPromptsAreTheSame) {
  expect_same("How do I reverse a list in Python?", "How do I reverse a list in Python?");
  expect_same("", "");
}

TEST(VerifierLanguageTest, SameLanguagePassesAnotherLanguageOrScriptRejects) {
  expect_same("What is the capital of Spain?", "Tell me the capital of Spain.");
  expect_rejected("What is the capital of Spain?", "¿Cuál es la capital de España?", "language");
  expect_rejected("How do I bake bread at home?", "Как испечь хлеб дома?", "language");
}

TEST(VerifierNumbersTest, WrittenNumbersPercentagesAndUnitsAreCompared) {
  expect_same("How many hours are in two weeks?", "How many hours are in 2 weeks?");
  expect_same("What is 15% of 80?", "What is 15 percent of 80?");
  expect_same("Run 5 kilometres a day", "Run 5 km a day");
  expect_same("Is 1,000 dollars a lot?", "Is $1000 a lot?");
  expect_rejected("How many calories are in 2 eggs?", "How many calories are in 3 eggs?", "numbers");
  expect_rejected("What was the population of Tokyo in 1990?", "What was the population of Tokyo in 2020?",
                  "numbers");
  expect_rejected("Run 5 km a day for a month", "Run 5 miles a day for a month", "numbers");
  expect_rejected("How far is the Moon in miles?", "How far is the Moon in kilometers?", "numbers");
  expect_rejected("What is pi to 3.14 precision?", "What is pi to 3.15 precision?", "numbers");
  expect_rejected("Give me twenty five ideas", "Give me 52 ideas", "numbers");
  expect_same("Rename the old column to a new one", "Rename the old column to a new name");
  expect_same("What happened on March 5, 2020?", "On March 5 2020, what happened?");
  expect_rejected("What happened on March 5, 2020?", "What happened on March 6, 2020?", "numbers");
  expect_rejected("What happened in March 2020?", "What happened in April 2020?", "entities");
  expect_rejected("Find one file larger than 1 GB", "Find two files larger than 1 GB", "numbers");
}

TEST(VerifierNegationTest, ParityOfNegationsDecides) {
  expect_same("Why doesn't my script run?", "Why does my script not run?");
  expect_same("Why can't I log in?", "Why cannot I log in?");
  expect_rejected("Why does my Python script work in the terminal?", "Why doesn't my Python script work in the terminal?",
                  "negation");
  expect_rejected("What happens if I take aspirin with food?", "What happens if I take aspirin without food?",
                  "negation");
  expect_rejected("Which countries use the euro?", "Which countries never used the euro?", "negation");
  expect_rejected("Why does the build succeed?", "Why does the build fail to succeed?", "negation");
  expect_same("Neither Python nor Ruby is compiled, right?", "Neither Ruby nor Python is compiled, right?");
  expect_rejected("Is there a cure for the common cold?", "Is there no cure for the common cold?", "negation");
}

TEST(VerifierQuestionTest, TheKindOfAnswerAskedForMustMatch) {
  expect_same("Which city is the capital of France?", "What city is the capital of France?");
  expect_same("When running Docker, how do I list containers?", "How do I list containers when running Docker?");
  expect_rejected("When was the Eiffel Tower built?", "Where was the Eiffel Tower built?", "question");
  expect_rejected("Why did Rome fall?", "When did Rome fall?", "question");
  expect_rejected("Explain why the build fails", "Explain how the build fails", "question");
}

TEST(VerifierQualifiersTest, QualifierGroupsMustMatch) {
  expect_same("List every file in the folder", "List all files in the folder");
  expect_same("What is the largest ocean?", "What is the biggest ocean?");
  expect_rejected("Do all birds fly?", "Do some birds fly?", "qualifiers");
  expect_rejected("Does the law apply only to employees?", "Does the law apply to employees?", "qualifiers");
  expect_rejected("What is the first letter of the alphabet?", "What is the last letter of the alphabet?", "qualifiers");
  expect_rejected("Do at least half of Americans own a car?", "Do at most half of Americans own a car?", "qualifiers");
  expect_rejected("What is the minimum wage here?", "What is the maximum wage here?", "qualifiers");
  expect_same("Will you explain how DNS works?", "Explain how DNS works.");
  expect_rejected("Who will win the election?", "Who won the election?", "qualifiers");
}

TEST(VerifierProgrammingLanguageTest, AnotherLanguageRejectsATypoDoesNot) {
  expect_same("Compare Python and Ruby for web development.", "Compare Pyhton and Ruby for web development.");
  expect_same("How do I make a HTTP request in Go?", "How do I make an HTTP request in Go?");
  expect_rejected("How do I read a file line by line in Python?", "How do I read a file line by line in Rust?",
                  "programming_language");
  expect_rejected("Write a quicksort in Java.", "Write a quicksort in C++.", "programming_language");
  expect_rejected("How do I parse JSON in Go?", "How do I parse JSON in JavaScript?", "programming_language");
  expect_rejected("Convert a string to an integer in C#", "Convert a string to an integer in F#", "programming_language");
}

TEST(VerifierEntitiesTest, NamesMustAppearOnBothSides) {
  expect_same("On macOS, where are screenshots saved?", "Where are screenshots saved on macOS?");
  expect_same("What does HTTP 404 mean?", "what does http 404 mean?");
  expect_rejected("What is the capital of Austria?", "What is the capital of Australia?", "entities");
  expect_rejected("How old was Mozart when he died?", "How old was Beethoven when he died?", "entities");
  expect_rejected("Where was Nick Jonas born?", "Where was Nick Jones born?", "entities");
  expect_same("What should I buy my dad? He likes golf.", "He likes golf: what should I buy for my dad?");
  expect_rejected("What gift should I buy for him?", "What gift should I buy for her?", "entities");
}

TEST(VerifierAntonymsTest, OpposedWordsReject) {
  expect_same("How do I make my website load faster?", "How do I make my website load quicker?");
  expect_rejected("How do I increase the font size?", "How do I decrease the font size?", "antonyms");
  expect_rejected("Is the temperature above zero today?", "Is the temperature below zero today?", "antonyms");
  expect_rejected("Is it safe to drink tap water?", "Is it unsafe to drink tap water?", "antonyms");
  expect_rejected("How do I enable dark mode?", "How do I disable dark mode?", "antonyms");
  if (wordnet()) expect_rejected("What is the hottest month in India?", "What is the coldest month in India?", "antonyms");
}

TEST(VerifierAlignmentTest, EveryContentWordNeedsAMatch) {
  expect_same("Can you please explain what a closure is in JavaScript?", "Explain what a closure is in JavaScript.");
  expect_same("Hello there. What time zone is Tokyo in?", "What time zone is Tokyo in?");
  expect_same("How do I cetner a div with CSS flexbox?", "How do I center a div with CSS flexbox?");
  expect_same("How do I set up SSH keys?", "How do I setup SSH keys?");
  expect_same("How works photosynthesis?", "How does photosynthesis work?");
  if (wordnet()) {
    expect_same("How do I fix a leaking faucet?", "How do I repair a leaking faucet?");
    expect_same("Who wrote Hamlet?", "Who write Hamlet?");
  }
  expect_rejected("Give me the answer as a table.", "Give me the answer as a bulleted outline.", "alignment");
  expect_rejected("Return the countries of Europe as JSON.", "Return the countries of Europe as CSV.", "entities");
  expect_rejected("Write a poem about the ocean.", "Write a short story about the ocean.", "alignment");
  expect_rejected("How do I sort a list?", "How do I sort a list of tuples?", "alignment");
  if (wordnet()) expect_rejected("How do I reset my modem?", "How do I reset my model?", "alignment");
}

TEST(VerifierOrderTest, MatchedWordsKeepTheirRoles) {
  expect_same("In Python, how do I reverse a list?", "How do I reverse a list in Python?");
  expect_same("To lose weight safely, what should I eat?", "What should I eat to lose weight safely?");
  expect_same("Is a tomato a fruit or a vegetable?", "Is a tomato a vegetable or a fruit?");
  expect_same("Compare PostgreSQL vs MySQL", "Compare MySQL vs PostgreSQL");
  expect_same("Translate the letter from English to French", "Translate the letter to French from English");
  expect_rejected("Convert 100 degrees Fahrenheit to Celsius.", "Convert 100 degrees Celsius to Fahrenheit.", "order");
  expect_rejected("How long is the flight from New York to London?", "How long is the flight from London to New York?",
                  "order");
  expect_rejected("Is Jupiter bigger than Saturn?", "Is Saturn bigger than Jupiter?", "order");
  expect_rejected("Did Germany beat Brazil in the final?", "Did Brazil beat Germany in the final?", "order");
}

TEST(VerifierLexiconTest, WithoutWordNetTheBuiltInListServesWithAWarning) {
  const Verifier bare = Verifier::load("/nonexistent/wordnet");
  EXPECT_NE(bare.lexicon_warning().find("wordnet-base"), std::string::npos);
  EXPECT_EQ(bare.lemma_count(), 0u);
  EXPECT_FALSE(bare.check("How do I increase the volume?", "How do I decrease the volume?").same);
  EXPECT_FALSE(bare.check("Is the price above average?", "Is the price below average?").same);
  EXPECT_TRUE(bare.check("How do I reverse lists in Python?", "How do I reverse a list in Python?").same);
}

// Each thread remembers what it learnt of the words it parsed (their base
// forms, synonyms, antonyms), by lexicon: a verifier without WordNet never
// gets the facts another one's WordNet gave the same word, nor the reverse.
TEST(VerifierLexiconTest, TwoLexiconsOnOneThreadKeepTheirOwnWordFacts) {
  if (!wordnet()) GTEST_SKIP() << verifier().lexicon_warning();
  const Verifier bare = Verifier::load("/nonexistent/wordnet");
  for (int round = 0; round < 3; ++round) {
    // "fix" / "repair": synonyms in WordNet only; "wrote" / "written": one base form there.
    EXPECT_TRUE(verifier().check("How do I fix a leaking faucet?", "How do I repair a leaking faucet?").same);
    EXPECT_FALSE(bare.check("How do I fix a leaking faucet?", "How do I repair a leaking faucet?").same);
    EXPECT_FALSE(bare.check("Who wrote Hamlet?", "Who has written Hamlet?").same);
    EXPECT_TRUE(verifier().check("Who wrote Hamlet?", "Who has written Hamlet?").same);
  }
}

TEST(VerifierLexiconTest, WordNetLoadsOnceAndQuickly) {
  if (!wordnet()) GTEST_SKIP() << verifier().lexicon_warning();
  EXPECT_GT(verifier().lemma_count(), 50'000u);
  EXPECT_GT(verifier().antonym_count(), 2'000u);
  EXPECT_LT(verifier().load_millis(), 5'000.0);  // about 100 ms of CPU; a loaded CI machine gets slack
}

TEST(VerifierTextTest, EditDistanceCountsATranspositionAsOne) {
  EXPECT_EQ(edit_distance("python", "pyhton", 2), 1);
  EXPECT_EQ(edit_distance("austria", "australia", 1), 2);
  EXPECT_TRUE(typo_of("population", "popluation"));
  EXPECT_FALSE(typo_of("python3", "python2"));
  EXPECT_FALSE(typo_of("sort", "port"));
}

TEST(VerifierBoundsTest, LongPromptsStayLinear) {
  std::string a, b;
  for (int i = 0; i < 400; ++i) {
    a += "the service number " + std::to_string(i) + " restarts after failure. ";
    b += "the service number " + std::to_string(i) + " restarts after failure. ";
  }
  b += "Thanks!";
  verifier().check(a, b);  // warms the thread's buffers
  const auto start = std::chrono::steady_clock::now();
  const Verdict v = verifier().check(a, b);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(v.same) << v.rule << ": " << v.detail;
  EXPECT_FALSE(verifier().check(a, b + " never").same);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 200);  // ~20 KB each
}

// One word said thousands of times: matching each repeat after the last
// one stepped through all the earlier repeats, quadratic (fuzz_cache_verifier,
// corpus/cache_verifier/one_word_repeated_ten_thousand_times).
TEST(VerifierBoundsTest, AWordRepeatedThousandsOfTimesStaysLinear) {
  auto make = [](std::size_t n) {
    std::string p;
    for (std::size_t i = 0; i < n; ++i) p += "b ";
    return p;
  };
  // A number of its own each time: the thread's parse cache must not answer.
  auto run = [k = 0](const std::string& p) mutable {
    const std::string q = p + std::to_string(++k);
    EXPECT_TRUE(verifier().check(q, q).same);
  };
  // Control: a copy and one pass over the bytes, linear by construction.
  auto control = [](const std::string& p) {
    [[maybe_unused]] static volatile std::size_t sink;  // kept: the copy and the count must happen
    const std::string q = p;
    sink = static_cast<std::size_t>(std::count(q.begin(), q.end(), 'b'));
  };
  EXPECT_LT(test::growth(make, run, control, 1000), test::kLinearGrowth);
}

// The alignment grows faster than the prompts: past kMaxBytes a prompt is
// refused unread, so a hostile megabyte costs nothing (the fuzz corpus's
// worst_long_prompts.grow checks the time).
TEST(VerifierBoundsTest, APromptOverTheBoundIsRefusedUnread) {
  const std::string at_bound(Verifier::kMaxBytes, 'a');
  const std::string over = at_bound + "a";
  EXPECT_TRUE(verifier().check(at_bound, at_bound).same);
  const Verdict v = verifier().check(over, over);
  EXPECT_FALSE(v.same);
  EXPECT_EQ(v.rule, "length");
  EXPECT_EQ(verifier().check("hi", over).rule, "length");
}

}  // namespace
}  // namespace sluice::cache
