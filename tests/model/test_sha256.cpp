// SHA-256 known answers (FIPS 180-4 examples, as NIST's SHA examples document lists them): the hashes
// of config.json and the weight index are provenance in every exported report and batch result, so
// a slip in our hand-written implementation must fail here, not in a reviewer's comparison later.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/sha256.h"
#include "support/check.h"

namespace {

std::string hashOf(const std::string& text) { return cxr::detail::sha256Hex(text.data(), text.size()); }

}  // namespace

int main() {
  // One block, empty message, and the two-block messages whose padding straddles a block edge.
  CHECK(hashOf("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty message");
  CHECK(hashOf("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "\"abc\"");
  CHECK(hashOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "448-bit message (padding needs a second block)");
  CHECK(hashOf("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
               "mnopqrstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        "896-bit message");
  const std::string million(1000000, 'a');
  CHECK(hashOf(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        "one million 'a' (many blocks)");

  // sha256File reads in chunks: the same million bytes from a file give the same answer.
  const auto path = std::filesystem::temp_directory_path() / "cxr_test_sha256_million_a.txt";
  { std::ofstream(path, std::ios::binary) << million; }
  CHECK(cxr::detail::sha256File(path.string()) == hashOf(million), "sha256File equals sha256Hex over the same bytes");
  std::filesystem::remove(path);
  CHECK(cxr::detail::sha256File("/nonexistent/config.json").empty(), "an unreadable file hashes to the empty string");
  return check::finish("test_sha256");
}
