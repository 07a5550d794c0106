// SHA-256 known answers (FIPS 180-4 examples, as NIST's SHA examples document lists them): the hashes
// of config.json and the weight index are provenance in every exported report and batch result, so
// a slip in our hand-written implementation must fail here, not in a reviewer's comparison later.
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

  // Lengths around the padding edges (55: length fits in the block; 56-63: it spills into a second;
  // 64: exact block; 119/120: the same edges one block later). Reference digests from coreutils'
  // sha256sum over the same bytes.
  const struct {
    size_t length;
    const char* digest;
  } edges[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  for (const auto& edge : edges)
    CHECK(hashOf(std::string(edge.length, 'a')) == edge.digest, "'a' x " + std::to_string(edge.length));
  return check::finish("test_sha256");
}
