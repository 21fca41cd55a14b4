// Signed notes, keys and checkpoints (common/tlog/note*.h, checkpoint.h)
// against the published vectors of golang.org/x/mod/sumdb/note and of the
// C2SP specifications; strict parsing refuses every near miss.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/encoding.h"
#include "common/tlog/note.h"
#include "gtest/gtest.h"

namespace booking::tlog {
namespace {

// golang/mod, sumdb/note/note_test.go (TestNewVerifier, TestNewSigner,
// TestSign, TestVerifierList, TestOpen).
constexpr char kPeterVkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kPeterSkey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kEnochVkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr char kText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kPeterSig[] =
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
constexpr char kEnochSig[] =
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

NoteVerifier Verifier(const char* vkey) { return *NoteVerifier::Parse(vkey); }

absl::StatusCode OpenCode(const std::string& note, std::vector<NoteVerifier> verifiers) {
  return OpenNote(note, verifiers).status().code();
}

TEST(TlogNoteTest, GoVerifierKeyAndEveryManglingOfIt) {
  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(kPeterVkey);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name(), "PeterNeumann");
  EXPECT_EQ(v->key_id(), 0xc74f20a3u);
  EXPECT_EQ(v->VerifierKey(), kPeterVkey);
  const std::string key = kPeterVkey;
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i != 0 || j != key.size()) {
        EXPECT_FALSE(NoteVerifier::Parse(key.substr(i, j - i)).ok()) << key.substr(i, j - i);
      }
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string bent = key;
    ++bent[i];
    EXPECT_FALSE(NoteVerifier::Parse(bent).ok()) << bent;
  }
  // Wrong key length and unknown algorithm, each with its key ID adjusted.
  EXPECT_FALSE(NoteVerifier::Parse("PeterNeumann+cc469956+"
                                   "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                   .ok());
  EXPECT_FALSE(
      NoteVerifier::Parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
          .ok());
}

TEST(TlogNoteTest, GoPrivateKeyAndEveryManglingOfIt) {
  absl::StatusOr<NoteSigner> s = NoteSigner::ParsePrivateKey(kPeterSkey);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->verifier().VerifierKey(), kPeterVkey);
  EXPECT_EQ(s->PrivateKey(), kPeterSkey);
  const std::string key = kPeterSkey;
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i != 0 || j != key.size()) {
        EXPECT_FALSE(NoteSigner::ParsePrivateKey(key.substr(i, j - i)).ok());
      }
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string bent = key;
    ++bent[i];
    EXPECT_FALSE(NoteSigner::ParsePrivateKey(bent).ok()) << bent;
  }
}

// Ed25519 is deterministic: the same key signs the same text the same way.
TEST(TlogNoteTest, SignsExactlyAsGo) {
  const NoteSigner peter = *NoteSigner::ParsePrivateKey(kPeterSkey);
  absl::StatusOr<std::string> note = SignNote(kText, {peter});
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(*note, absl::StrCat(kText, "\n", kPeterSig));
  EXPECT_EQ(SignNote("abc", {peter}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignNote(kText, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignNote(kText, {peter, peter}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlogNoteTest, OpensAsGo) {
  const std::string both = absl::StrCat(kText, "\n", kPeterSig, kEnochSig);
  absl::StatusOr<Note> n = OpenNote(both, {Verifier(kPeterVkey)});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->text, kText);
  ASSERT_EQ(n->signatures.size(), 1u);  // Enoch's key is unknown: skipped
  EXPECT_EQ(n->signatures[0].key_name, "PeterNeumann");
  EXPECT_EQ(n->signatures[0].key_id, 0xc74f20a3u);
  n = OpenNote(both, {Verifier(kPeterVkey), Verifier(kEnochVkey)});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->signatures.size(), 2u);
  EXPECT_EQ(OpenCode(both, {}), absl::StatusCode::kUnauthenticated);
  // Two trusted keys with one name and key ID are ambiguous.
  EXPECT_EQ(OpenCode(absl::StrCat(kText, "\n", kEnochSig),
                     {Verifier(kEnochVkey), Verifier(kPeterVkey), Verifier(kEnochVkey)}),
            absl::StatusCode::kInvalidArgument);
  // Too many signatures, known or not.
  std::string many = absl::StrCat(kText, "\n");
  for (int i = 0; i < 101; ++i) many += kPeterSig;
  EXPECT_EQ(OpenCode(many, {Verifier(kPeterVkey)}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenCode(many, {}), absl::StatusCode::kInvalidArgument);
  // A known key's signature that does not verify.
  const std::string sig = kPeterSig;
  EXPECT_EQ(OpenCode(absl::StrCat(kText, "\n", sig.substr(0, 60), "ABCD", sig.substr(60)),
                     {Verifier(kPeterVkey)}),
            absl::StatusCode::kUnauthenticated);
  // Stricter than Go, which skips a repeated signature: a key signs once.
  EXPECT_EQ(OpenCode(absl::StrCat(kText, "\n", kPeterSig, kPeterSig), {Verifier(kPeterVkey)}),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlogNoteTest, RefusesGoMalformedNotes) {
  const std::string text = kText, sig = kPeterSig;
  const std::vector<std::string> bad = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" +
          "— Bad Name "
          "x08go/ZJkuBS9UG/"
          "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + sig + "Unexpected line.\n",
  };
  for (const std::string& note : bad) {
    EXPECT_EQ(OpenCode(note, {Verifier(kPeterVkey)}), absl::StatusCode::kInvalidArgument) << note;
  }
}

TEST(TlogNoteTest, RefusesNearMisses) {
  const std::string text = kText, sig = kPeterSig;
  const std::string b64 = sig.substr(sig.rfind(' ') + 1, sig.size() - sig.rfind(' ') - 2);
  const std::vector<std::string> bad = {
      text + "\n" + absl::StrReplaceAll(sig, {{"— ", "—  "}}),  // two spaces
      text + "\n" + absl::StrReplaceAll(sig, {{"Neumann ", "Neumann  "}}),
      text + "\n" + absl::StrReplaceAll(sig, {{"=\n", "= \n"}}),  // trailing space
      text + "\n" + absl::StrReplaceAll(sig, {{"— ", "- "}}),     // ASCII hyphen
      text + "\n" + absl::StrReplaceAll(sig, {{"=\n", "\n"}}),    // padding dropped
      text + "\n" + "— PeterNeumann AAAA\n",                      // key ID only
      text + "\n" + sig + "\n",                                   // blank line after
      std::string(kMaxNoteLineBytes + 1, 'x') + "\n\n" + sig,     // line too long
      text + "\r\n" + sig,                                        // control character
  };
  for (const std::string& note : bad) {
    EXPECT_EQ(OpenCode(note, {Verifier(kPeterVkey)}), absl::StatusCode::kInvalidArgument) << note;
  }
  std::string seventeen = text + "\n";
  for (int i = 0; i < 17; ++i) seventeen += "— k" + std::to_string(i) + " " + b64 + "\n";
  EXPECT_EQ(ParseNote(seventeen).status().message(),
            "malformed signed note: more than 16 signatures");
  seventeen.resize(seventeen.rfind("— k16"));
  EXPECT_TRUE(ParseNote(seventeen).ok())
      << ParseNote(seventeen).status();  // 16, the least C2SP lets a verifier accept
}

// c2sp.org/signed-note: the example vkey and note; the text of the first
// example holds an empty line (the last one separates the signatures).
TEST(TlogNoteTest, C2spExamples) {
  const std::string note =
      "This is an example message.\n\n— example.com/foo "
      "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
      "\n";
  absl::StatusOr<Note> n = OpenNote(
      note, {Verifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->text, "This is an example message.\n");
  absl::StatusOr<Note> poem = ParseNote(
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito "
      "sera.\n\n— quasimodo.example/salvatore "
      "NnugSzTjtVAewIS+Z/iJhUPeFDkO/"
      "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n");
  ASSERT_TRUE(poem.ok()) << poem.status();
  EXPECT_EQ(poem->text,
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito "
            "sera.\n");
  ASSERT_EQ(poem->signatures.size(), 1u);
  EXPECT_EQ(poem->signatures[0].key_name, "quasimodo.example/salvatore");
}

// c2sp.org/tlog-checkpoint: the example body.
constexpr char kSofa[] =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

TEST(TlogCheckpointTest, C2spExampleBodyRoundTrips) {
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(kSofa);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(c->size, 20852163u);
  EXPECT_EQ(Base64Encode(HashToBytes(c->root)), "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  EXPECT_TRUE(c->extensions.empty());
  EXPECT_EQ(*FormatCheckpoint(*c), kSofa);
  // Its published signature is by a key the specification does not give.
  const std::string signed_sofa =
      absl::StrCat(kSofa, "\n— example.com/behind-the-sofa ",
                   "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
                   "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n");
  EXPECT_TRUE(ParseNote(signed_sofa).ok());
  EXPECT_EQ(OpenCheckpoint(signed_sofa, {Verifier(kPeterVkey)}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TlogCheckpointTest, ExtensionsAndLimits) {
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(absl::StrCat(kSofa, "ext one\nx\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->extensions, (std::vector<std::string>{"ext one", "x"}));
  EXPECT_EQ(*FormatCheckpoint(*c), absl::StrCat(kSofa, "ext one\nx\n"));
  const std::string root = "\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  EXPECT_EQ(ParseCheckpoint("o\n0" + root)->size, 0u);
  EXPECT_EQ(ParseCheckpoint("o\n18446744073709551615" + root)->size, UINT64_MAX);
  Checkpoint bad = *c;
  bad.extensions.push_back("");
  EXPECT_FALSE(FormatCheckpoint(bad).ok());
  bad.extensions.back() = "two\nlines";
  EXPECT_FALSE(FormatCheckpoint(bad).ok());
  bad = *c;
  bad.origin = "has space";
  EXPECT_FALSE(FormatCheckpoint(bad).ok());
}

TEST(TlogCheckpointTest, RefusesNearMisses) {
  const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  const std::vector<std::string> bad = {
      "o\n5\n" + root,           // no final newline
      "o\n5\n",                  // no root line
      "o\n5\n" + root + "\n\n",  // empty extension line
      "\n5\n" + root + "\n",     // empty origin
      " o\n5\n" + root + "\n",   // origin with a leading space
      "o \n5\n" + root + "\n",   // ... a trailing one
      "o\n 5\n" + root + "\n",   // size with a space
      "o\n5 \n" + root + "\n",
      "o\n05\n" + root + "\n",  // leading zero
      "o\n+5\n" + root + "\n",  // sign
      "o\n-1\n" + root + "\n",
      "o\n0x5\n" + root + "\n",
      "o\n18446744073709551616\n" + root + "\n",               // 2^64
      "o\n5\n" + root + " \n",                                 // root with a space
      "o\n5\n" + root.substr(0, 43) + "\n",                    // padding dropped
      "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  // trailing bits set
      "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n",  // 31 bytes
      "o\n5\n" + root + "\r\n",                                // control character
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(ParseCheckpoint(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(TlogCheckpointTest, SignedCheckpointRoundTripsOnlyWithItsKey) {
  const NoteSigner log = *NoteSigner::Generate("example.com/bookings");
  const Checkpoint c{"example.com/bookings", 42, LeafHash("x"), {}};
  absl::StatusOr<std::string> note = SignCheckpoint(c, log);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(*note, {log.verifier()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->size, 42u);
  EXPECT_EQ(opened->root, c.root);
  const NoteSigner other = *NoteSigner::Generate("example.com/bookings");
  EXPECT_EQ(OpenCheckpoint(*note, {other.verifier()}).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(OpenCheckpoint(absl::StrReplaceAll(*note, {{"\n42\n", "\n43\n"}}), {log.verifier()})
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

// The character rules of C2SP signed notes and key names.
TEST(TlogEncodingTest, NoteTextAndKeyNames) {
  EXPECT_TRUE(IsNoteText("ed \xC3\xA8 subito sera\n"));
  for (const char* bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xE2\x80", "\x80", "\xFF", "a\tb", "\x7F\x01"}) {
    EXPECT_FALSE(IsNoteText(bad)) << absl::CEscape(bad);
  }
  EXPECT_TRUE(IsKeyNameText("example.com/log\xE2\x80\x94x"));
  for (const char* bad : {"a b", "a+b",
                          "a\xC2\xA0"
                          "b",
                          "a\xE3\x80\x80"
                          "b",
                          "a\xE2\x80\xA8"
                          "b",
                          "a\nb"}) {
    EXPECT_FALSE(IsKeyNameText(bad)) << absl::CEscape(bad);
  }
  EXPECT_FALSE(CheckKeyName("").ok());
  EXPECT_FALSE(CheckKeyName(std::string(kMaxKeyNameBytes + 1, 'a')).ok());
  EXPECT_EQ(Base64DecodeStrict("AA=="), std::string(1, '\0'));
  for (const char* bad : {"AA", "AA=", "AB==", "A A=", "AA==\n", "AA===", "-_=="}) {
    EXPECT_FALSE(Base64DecodeStrict(bad).has_value()) << bad;
  }
  EXPECT_EQ(ParseHex32("c74f20a3"), 0xc74f20a3u);
  for (const char* bad : {"C74F20A3", "c74f20a", "c74f20a30", "+74f20a3", "c74f20g3"}) {
    EXPECT_FALSE(ParseHex32(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace booking::tlog
