// The verifier's closed word classes (verifier_words.hpp). Each list is a
// closed class of English, not a tuning knob: a word is here because of
// what it does in any prompt, never because one pair needed it.
#include "verifier_words.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <utility>

namespace sluice::cache::words {

namespace {

using Pair = std::pair<std::string_view, std::string_view>;

constexpr auto kFunction = std::to_array<std::string_view>({
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "it's", "i", "me", "my", "mine", "myself",
    "we", "us", "our", "you", "your", "yours", "he", "him", "his", "she", "her", "they", "them", "their",
    "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done", "doing", "have",
    "has", "had", "having", "will", "shall", "should", "may", "might", "must", "of", "in", "on", "at", "for",
    "with", "by", "about", "as", "and", "or", "but", "if", "whether", "so", "then", "there", "here", "what",
    "which", "who", "whom", "whose", "when", "where", "why", "how", "hows", "whats", "also", "too",
    "very", "really", "just", "any", "anything", "something", "someone", "one's", "within", "between", "vs",
    "versus", "per", "via", "$", "%", "\xE2\x82\xAC", "out", "up", "off", "get", "got", "s", "let", "lets", "yes", "ok", "okay", "etc"});

// How a request is asked rather than what it asks: politeness, the verbs
// that turn a question into an imperative ("explain", "tell me", "list",
// "define"), and the nouns of "the way to" / "a question about".
constexpr auto kFrame = std::to_array<std::string_view>({
    "please", "kindly", "thanks", "thank", "hi", "hello", "hey", "can", "could", "would", "tell", "explain",
    "describe", "show", "give", "know", "want", "wonder", "wondering", "like", "help", "need", "question",
    "quick", "way", "mind", "sorry", "bother", "ask", "advance", "list", "calculate", "compute", "define",
    "name", "suggest", "recommend", "say", "let's", "much", "possible", "actually", "basically", "curious",
    "anyone", "somebody", "someone", "appreciate"});

constexpr auto kNegators = std::to_array<std::string_view>({
    "not", "no", "never", "without", "none", "neither", "nor", "nobody", "nothing", "nowhere", "cannot",
    "unable", "fail", "lack", "lacking"});

// The direction and comparison words whose next content word takes a role:
// "from X to Y", "X above Y", "bigger than Y".
constexpr auto kDirections = std::to_array<std::string_view>({
    "to", "from", "into", "onto", "than", "above", "below", "over", "under", "before", "after", "toward",
    "towards", "against", "beneath", "beyond", "unto", "till"});

constexpr auto kQualifiers = std::to_array<Pair>({
    {"only", "only"}, {"solely", "only"}, {"exclusively", "only"}, {"all", "all"}, {"every", "all"},
    {"each", "all"}, {"everything", "all"}, {"everyone", "all"}, {"everybody", "all"}, {"always", "always"},
    {"usually", "usually"}, {"often", "often"}, {"sometimes", "sometimes"}, {"rarely", "rarely"},
    {"seldom", "rarely"}, {"some", "some"}, {"several", "some"}, {"few", "few"}, {"many", "many"},
    {"numerous", "many"}, {"most", "most"}, {"least", "least"}, {"more", "more"}, {"less", "less"},
    {"fewer", "less"}, {"exactly", "exactly"}, {"approximately", "about"}, {"roughly", "about"},
    {"first", "first"}, {"second", "second"}, {"third", "third"}, {"fourth", "fourth"}, {"fifth", "fifth"},
    {"last", "last"}, {"final", "last"}, {"next", "next"}, {"previous", "previous"}, {"minimum", "min"},
    {"min", "min"}, {"minimal", "min"}, {"smallest", "min"}, {"lowest", "min"}, {"maximum", "max"},
    {"max", "max"}, {"largest", "max"}, {"biggest", "max"}});
constexpr auto kMoreMaxima = std::to_array<Pair>({{"highest", "max"}, {"maximal", "max"}});

constexpr auto kGreeting = std::to_array<std::string_view>({
    "hello", "hi", "hey", "good", "morning", "evening", "afternoon", "there", "thanks", "thank", "you",
    "so", "much", "in", "advance", "sorry", "please", "ok", "okay", "dear", "all", "everyone"});

constexpr auto kNumbers = std::to_array<std::pair<std::string_view, double>>({
    {"zero", 0}, {"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}, {"five", 5}, {"six", 6}, {"seven", 7},
    {"eight", 8}, {"nine", 9}, {"ten", 10}, {"eleven", 11}, {"twelve", 12}, {"thirteen", 13},
    {"fourteen", 14}, {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17}, {"eighteen", 18},
    {"nineteen", 19}, {"twenty", 20}, {"thirty", 30}, {"forty", 40}, {"fifty", 50}, {"sixty", 60},
    {"seventy", 70}, {"eighty", 80}, {"ninety", 90}, {"dozen", 12}, {"half", 0.5}, {"twice", 2}});
constexpr auto kMultipliers = std::to_array<std::pair<std::string_view, double>>({
    {"hundred", 1e2}, {"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9}, {"trillion", 1e12}, {"k", 1e3}});

// Unambiguous unit words: a unit wherever they stand.
constexpr auto kUnits = std::to_array<Pair>({
    {"km", "km"}, {"kms", "km"}, {"kilometer", "km"}, {"kilometers", "km"}, {"kilometre", "km"},
    {"kilometres", "km"}, {"mile", "mi"}, {"miles", "mi"}, {"meter", "m"}, {"meters", "m"}, {"metre", "m"},
    {"metres", "m"}, {"cm", "cm"}, {"centimeter", "cm"}, {"centimeters", "cm"}, {"mm", "mm"},
    {"millimeter", "mm"}, {"millimeters", "mm"}, {"foot", "ft"}, {"feet", "ft"}, {"ft", "ft"},
    {"inch", "inch"}, {"inches", "inch"}, {"yard", "yd"}, {"yards", "yd"}, {"kg", "kg"}, {"kgs", "kg"},
    {"kilogram", "kg"}, {"kilograms", "kg"}, {"kilo", "kg"}, {"kilos", "kg"}, {"gram", "g"}, {"grams", "g"},
    {"mg", "mg"}, {"milligram", "mg"}, {"milligrams", "mg"}, {"pound", "lb"}, {"pounds", "lb"}, {"lb", "lb"},
    {"lbs", "lb"}, {"ounce", "oz"}, {"ounces", "oz"}, {"oz", "oz"}, {"ton", "t"}, {"tons", "t"},
    {"tonne", "t"}, {"tonnes", "t"}, {"liter", "l"}, {"liters", "l"}, {"litre", "l"}, {"litres", "l"},
    {"ml", "ml"}, {"milliliter", "ml"}, {"milliliters", "ml"}, {"millilitre", "ml"}, {"gallon", "gal"},
    {"gallons", "gal"}, {"cup", "cup"}, {"cups", "cup"}, {"tablespoon", "tbsp"}, {"tablespoons", "tbsp"},
    {"tbsp", "tbsp"}, {"teaspoon", "tsp"}, {"teaspoons", "tsp"}, {"tsp", "tsp"}, {"celsius", "C"},
    {"centigrade", "C"}, {"fahrenheit", "F"}, {"kelvin", "K"}, {"mph", "mph"}, {"kph", "kph"},
    {"percent", "%"}, {"percentage", "%"}, {"%", "%"}, {"dollar", "usd"}, {"dollars", "usd"},
    {"usd", "usd"}, {"$", "usd"}, {"\xE2\x82\xAC", "eur"}, {"euro", "eur"}, {"euros", "eur"}, {"eur", "eur"}, {"yen", "jpy"},
    {"kb", "kb"}, {"mb", "mb"}, {"gb", "gb"}, {"tb", "tb"}});
// Units only right after a number: "5 m", "10 seconds", "3 h".
constexpr auto kUnitsAfterNumber = std::to_array<Pair>({
    {"m", "m"}, {"g", "g"}, {"l", "l"}, {"c", "C"}, {"f", "F"}, {"t", "t"}, {"s", "s"}, {"sec", "s"},
    {"secs", "s"}, {"second", "s"}, {"seconds", "s"}, {"ms", "ms"}, {"min", "min"}, {"mins", "min"},
    {"minute", "min"}, {"minutes", "min"}, {"h", "h"}, {"hr", "h"}, {"hrs", "h"}, {"hour", "h"},
    {"hours", "h"}, {"day", "day"}, {"days", "day"}, {"week", "week"}, {"weeks", "week"}, {"month", "month"},
    {"months", "month"}, {"year", "year"}, {"years", "year"}, {"yr", "year"}, {"yrs", "year"},
    {"degree", "deg"}, {"degrees", "deg"}, {"word", "word"}, {"words", "word"}, {"page", "page"},
    {"pages", "page"}, {"x", "times"}, {"st", "th"}, {"nd", "th"}, {"rd", "th"}, {"th", "th"}});

constexpr auto kLanguages = std::to_array<Pair>({
    {"python", "python"}, {"py", "python"}, {"java", "java"}, {"javascript", "javascript"},
    {"js", "javascript"}, {"node", "javascript"}, {"node.js", "javascript"}, {"nodejs", "javascript"},
    {"typescript", "typescript"}, {"ts", "typescript"}, {"rust", "rust"}, {"c++", "c++"}, {"cpp", "c++"},
    {"c#", "c#"}, {"csharp", "c#"}, {"f#", "f#"}, {"golang", "go"}, {"ruby", "ruby"}, {"php", "php"},
    {"kotlin", "kotlin"}, {"scala", "scala"}, {"elixir", "elixir"}, {"erlang", "erlang"},
    {"haskell", "haskell"}, {"perl", "perl"}, {"lua", "lua"}, {"matlab", "matlab"}, {"julia", "julia"},
    {"bash", "bash"}, {"zsh", "zsh"}, {"powershell", "powershell"}, {"sql", "sql"}, {"clojure", "clojure"},
    {"ocaml", "ocaml"}, {"zig", "zig"}, {"nim", "nim"}, {"fortran", "fortran"}, {"cobol", "cobol"},
    {"groovy", "groovy"}, {"vb.net", "vb"}, {"vba", "vb"}, {"objective-c", "objective-c"},
    {"assembly", "assembly"}, {"solidity", "solidity"}, {"html", "html"}, {"css", "css"},
    {"prolog", "prolog"}, {"lisp", "lisp"}});
// Languages named by a common word: only when capitalised mid-sentence.
constexpr auto kCapitalisedLanguages = std::to_array<Pair>({
    {"go", "go"}, {"c", "c"}, {"r", "r"}, {"swift", "swift"}, {"dart", "dart"}});

constexpr auto kAntonyms = std::to_array<Pair>({
    {"above", "below"}, {"over", "under"}, {"before", "after"}, {"more", "less"}, {"more", "fewer"},
    {"most", "least"}, {"up", "down"}, {"in", "out"}, {"inside", "outside"}, {"with", "without"},
    {"min", "max"}, {"minimum", "maximum"}, {"first", "last"}, {"hot", "cold"}, {"big", "small"},
    {"large", "small"}, {"high", "low"}, {"long", "short"}, {"fast", "slow"}, {"cheap", "expensive"},
    {"good", "bad"}, {"best", "worst"}, {"better", "worse"}, {"increase", "decrease"}, {"open", "close"},
    {"start", "stop"}, {"enable", "disable"}, {"add", "remove"}, {"push", "pull"}, {"import", "export"},
    {"upload", "download"}, {"encrypt", "decrypt"}, {"compress", "decompress"}, {"buy", "sell"},
    {"win", "lose"}, {"true", "false"}, {"strong", "weak"}, {"soft", "hard"}, {"easy", "difficult"},
    {"advantage", "disadvantage"}});

// Every listed word with what the lists say of it, built once: a lookup is
// one hash of the word, not a scan of the lists.
using Entry = Info;

const std::unordered_map<std::string_view, Entry>& index() {
  static const auto table = [] {
    std::unordered_map<std::string_view, Entry> t;
    // Later lists win the word's class: a negator or a direction is never
    // only a function word.
    for (std::string_view w : kFrame) t[w].kind = Class::frame;
    for (std::string_view w : kFunction) t[w].kind = Class::function;
    for (const auto& [w, g] : kQualifiers) t[w].kind = Class::qualifier, t[w].qualifier = g;
    for (const auto& [w, g] : kMoreMaxima) t[w].kind = Class::qualifier, t[w].qualifier = g;
    for (std::string_view w : kDirections) t[w].kind = Class::direction;
    for (std::string_view w : kNegators) t[w].kind = Class::negator;
    for (std::string_view w : kGreeting) t[w].greeting = true;
    for (const auto& [w, v] : kNumbers) t[w].number = true, t[w].value = v;
    for (const auto& [w, v] : kMultipliers) t[w].number = t[w].multiplier = true, t[w].value = v;
    for (const auto& [w, u] : kUnits) t[w].unit = u;
    for (const auto& [w, u] : kUnitsAfterNumber) t[w].unit_after_number = u;
    for (const auto& [w, l] : kLanguages) t[w].language = l;
    for (const auto& [w, l] : kCapitalisedLanguages) t[w].capitalised_language = l;
    return t;
  }();
  return table;
}

}  // namespace

const Info* info(std::string_view word) noexcept {
  const auto& t = index();
  const auto it = t.find(word);
  return it == t.end() ? nullptr : &it->second;
}

Class class_of(std::string_view word) noexcept {
  const Entry* e = info(word);
  return e ? e->kind : Class::content;
}

std::span<const std::pair<std::string_view, std::string_view>> builtin_antonyms() noexcept { return kAntonyms; }

bool prefixed_opposite(std::string_view a, std::string_view b) noexcept {
  static constexpr auto kPrefixes = std::to_array<std::string_view>({"un", "in", "im", "il", "ir", "dis", "de", "non"});
  if (a.size() > b.size()) std::swap(a, b);
  if (a.size() < 4) return false;  // "de" + "bug", "in" + "put": short stems are not words opposed
  for (std::string_view prefix : kPrefixes)
    if (b.size() == a.size() + prefix.size() && b.starts_with(prefix) && b.ends_with(a)) return true;
  return false;
}

}  // namespace sluice::cache::words
