// Hostile .ckpt files: a table of hand-made corruptions, each refused with a cellar::Error that
// names the file, and a seeded mutation loop where every outcome is a load or a cellar::Error,
// never a crash (these tests also run under ASan/UBSan).
#include <cellar/cellar.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "corrupt_cases.h"
#include "formats/ckpt.h"
#include "test_util.h"

namespace {

using Bytes = std::vector<std::byte>;
using cellar::DType;
using cellar::Shape;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;

// ---- a tiny protobuf encoder for building files by hand ----

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes raw(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}
Bytes text(std::string_view s) {
  Bytes out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}
Bytes varint(uint64_t v) {
  Bytes out;
  while (v >= 0x80) {
    out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::byte>(v));
  return out;
}
Bytes key(int field, int wire) { return varint(static_cast<uint64_t>(field) << 3 | wire); }
Bytes len_field(int field, const Bytes& payload) {
  return cat({key(field, 2), varint(payload.size()), payload});
}
Bytes f32(std::vector<float> v) {
  Bytes out(v.size() * 4);
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}
Bytes dims_of(const std::vector<int64_t>& dims) {
  Bytes out;
  for (int64_t d : dims) out = cat({out, key(1, 0), varint(static_cast<uint64_t>(d))});
  return out;
}
Bytes tensor(const std::vector<int64_t>& dims, std::string_view type, const Bytes& content) {
  return cat({dims_of(dims), len_field(2, text(type)), len_field(3, content)});
}
Bytes value(std::string_view tag, const Bytes& tensor_msg) {
  return cat({len_field(1, text(tag)), len_field(2, tensor_msg)});
}
Bytes record(const Bytes& value_msg) { return len_field(1, value_msg); }
Bytes rec(std::string_view tag, const std::vector<int64_t>& dims, std::string_view type,
          const Bytes& content) {
  return record(value(tag, tensor(dims, type, content)));
}
Bytes trailer(const Bytes& body) {
  const uint32_t crc = cellar::formats::ckpt::crc32(body);
  return cat(
      {text("crc_num"), raw({0, 0, 0, 0, 0, 0}),
       raw({int(crc >> 24), int((crc >> 16) & 255), int((crc >> 8) & 255), int(crc & 255)})});
}
Bytes truncated(Bytes b, size_t n) {
  b.resize(n);
  return b;
}

// A valid small file: a matrix, a scalar, a tensor split over two Values, a string.
const Bytes kA = rec("a", {2, 3}, "Float32", f32({1, 2, 3, 4, 5, 6}));
const Bytes kC = rec("c", {0}, "Float32", f32({0.5f}));
const Bytes kB1 = rec("b", {4}, "Int16", raw({1, 0, 2, 0}));
const Bytes kB2 = rec("b", {4}, "Int16", raw({3, 0, 4, 0}));
const Bytes kS = rec("s", {0}, "str", raw({'o', 0, 0, 0, 'k', 0, 0, 0}));
const Bytes kValid = cat({kA, kC, kB1, kB2, kS});

enum class Want { kFormat, kUnsupported, kNotFound };

struct Case {
  const char* what;
  Bytes bytes;
  Want want = Want::kFormat;
  bool crc_check = false;
};

std::vector<Case> corruptions() {
  const Bytes a_value = value("a", tensor({2, 3}, "Float32", f32({1, 2, 3, 4, 5, 6})));
  const Bytes good = trailer(kValid);  // a correct trailer, whose CRC bytes are reused below
  std::vector<Case> cases = {
      {"empty file", {}},
      {"trailer only", cat({text("crc_num"), raw({0, 0, 0, 0, 0, 0, 0, 0, 0, 0})}),
       Want::kNotFound},
      {"one byte", raw({0x0A})},
      {"truncated record length varint", raw({0x0A, 0x80})},
      {"truncated inside the tag", truncated(kA, 4)},
      {"truncated inside the tensor header", truncated(kA, 10)},
      {"truncated inside the content", truncated(kValid, kA.size() - 3)},
      {"truncated inside the second record", truncated(kValid, kA.size() + 5)},
      {"truncated one byte short", truncated(kValid, kValid.size() - 1)},
      {"record length larger than the file", cat({key(1, 2), varint(a_value.size() + 9), a_value})},
      {"record length shorter than its value",
       cat({key(1, 2), varint(a_value.size() - 5), a_value})},
      {"tensor length past its value", record(cat({len_field(1, text("a")), key(2, 2), varint(200),
                                                   tensor({1}, "Int8", raw({1}))}))},
      {"varint of 11 bytes",
       cat({key(1, 2), raw({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})})},
      {"varint overflowing 64 bits",
       cat({key(1, 2), raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})})},
      {"huge dims overflow the byte count", rec("h", {1ll << 62, 4}, "Float32", f32({1}))},
      {"dims overflow the element count", rec("h", {1ll << 40, 1ll << 40}, "Int8", raw({1}))},
      {"negative dimension", rec("n", {-1}, "Float32", f32({1}))},
      {"content shorter than the dims", rec("m", {3}, "Float32", f32({1, 2}))},
      {"content longer than the dims", rec("m", {1}, "Float32", f32({1, 2}))},
      {"scalar with two elements", rec("m", {}, "Float32", f32({1, 2}))},
      {"unknown tensor_type", rec("u", {1}, "Float128", f32({1, 2, 3, 4}))},
      {"Int4 tensor_type", rec("q", {2}, "Int4", raw({0x12})), Want::kUnsupported},
      {"map tensor",
       record(cat({len_field(1, text("map")),
                   len_field(3, tensor({1}, "Int64", raw({1, 0, 0, 0, 0, 0, 0, 0})))})),
       Want::kUnsupported},
      {"group wire type in a Value", record(cat({len_field(1, text("g")), key(5, 3)}))},
      {"end-group wire type at top level", cat({kA, key(7, 4)})},
      {"wire type 7", cat({kA, key(2, 7), raw({0})})},
      {"field number 0", cat({raw({0x02, 0x00})})},
      {"Checkpoint.value as a varint", cat({key(1, 0), varint(5)})},
      {"tag as a varint",
       record(cat({key(1, 0), varint(3), len_field(2, tensor({1}, "Int8", raw({1})))}))},
      {"empty tag", rec("", {1}, "Int8", raw({1}))},
      {"no tag", record(len_field(2, tensor({1}, "Int8", raw({1}))))},
      {"tag too long", rec(std::string(70000, 'x'), {1}, "Int8", raw({1}))},
      {"tag not UTF-8", rec("\xc3\x28", {1}, "Int8", raw({1}))},
      {"no tensor", record(len_field(1, text("lonely")))},
      {"no tensor_type", record(value("t", cat({dims_of({1}), len_field(3, raw({1}))})))},
      {"tensor_type twice",
       record(value("t", cat({tensor({1}, "Int8", raw({1})), len_field(2, text("Int8"))})))},
      {"tag twice",
       record(cat({len_field(1, text("a")), value("b", tensor({1}, "Int8", raw({1})))}))},
      {"duplicate tag, apart", cat({kA, kC, kA})},
      {"split slices with different dims",
       cat({kB1, rec("b", {2, 2}, "Int16", raw({3, 0, 4, 0}))})},
      {"split slices with different types", cat({kB1, rec("b", {4}, "UInt16", raw({3, 0, 4, 0}))})},
      {"split slices that do not fill the dims", cat({kB1, rec("b", {4}, "Int16", raw({3, 0}))})},
      {"str content not a multiple of 4", rec("s", {0}, "str", raw({'o', 0, 0}))},
      {"str with a code point over U+10FFFF", rec("s", {0}, "str", raw({0, 0, 0x11, 0}))},
      {"str with a surrogate", rec("s", {0}, "str", raw({0x00, 0xd8, 0, 0}))},
      {"rank over 64", rec("r", std::vector<int64_t>(65, 1), "Int8", raw({1}))},
      {"packed dims truncated",
       record(value("p", cat({key(1, 2), varint(2), raw({2, 0x80}), len_field(2, text("Int8")),
                              len_field(3, raw({1, 2}))})))},
      {"fixed64 field past the end", cat({kA, key(9, 1), raw({1, 2, 3})})},
      {"crc mismatch", cat({kValid, text("crc_num"), raw({0, 0, 0, 0, 0, 0, 1, 2, 3, 4})}),
       Want::kFormat, true},
      {"crc trailer over 32 bits",
       cat({kValid, text("crc_num"), raw({0, 0, 0, 0, 1, 0}),
            Bytes(good.begin() + 13, good.end())}),
       Want::kFormat, true},
      {"crc_check without a trailer", kValid, Want::kFormat, true},
      {"garbage", text("this is not a checkpoint at all, just some text")},
  };
  return cases;
}

TEST(CkptCorrupt, EveryHandMadeCorruptionIsACleanErrorNamingTheFile) {
  TempDir dir;
  const auto cases = corruptions();
  ASSERT_GE(cases.size(), 20u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.what);
    const std::string file = "case-" + std::to_string(i) + ".ckpt";
    write_bytes(dir / file, c.bytes);
    cellar::testing::export_corrupt_case(dir / file, "ckpt", c.what,
                                         c.want == Want::kFormat ? cellar::ErrorCode::kFormat
                                         : c.want == Want::kUnsupported
                                             ? cellar::ErrorCode::kUnsupported
                                             : cellar::ErrorCode::kNotFound,
                                         {{"crc_check", c.crc_check}});
    cellar::LoadOptions opt;
    opt.crc_check = c.crc_check;
    try {
      const auto d = cellar::load_checkpoint(dir / file, opt);
      ADD_FAILURE() << "loaded " << d.size() << " entries";
    } catch (const cellar::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      switch (c.want) {
        case Want::kFormat:
          EXPECT_NE(dynamic_cast<const cellar::FormatError*>(&e), nullptr) << msg;
          EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat) << msg;
          EXPECT_TRUE(e.offset().has_value()) << msg;
          break;
        case Want::kUnsupported:
          EXPECT_EQ(e.code(), cellar::ErrorCode::kUnsupported) << msg;
          EXPECT_FALSE(e.tensor().empty()) << msg;  // names the tag
          break;
        case Want::kNotFound:
          EXPECT_EQ(e.code(), cellar::ErrorCode::kNotFound) << msg;
          break;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a cellar::Error: " << e.what();
    }
  }
}

TEST(CkptCorrupt, ErrorsNameTheTensorAndTheOffset) {
  TempDir dir;
  write_bytes(dir / "m.ckpt", cat({kA, rec("bad.one", {3}, "Float32", f32({1, 2}))}));
  try {
    cellar::load_checkpoint(dir / "m.ckpt");
    FAIL();
  } catch (const cellar::FormatError& e) {
    EXPECT_EQ(e.tensor(), "bad.one");
    ASSERT_TRUE(e.offset().has_value());
    EXPECT_GT(*e.offset(), kA.size());  // inside the second record
    EXPECT_NE(std::string(e.what()).find("[3]"), std::string::npos) << e.what();
  }
  write_bytes(dir / "map.ckpt",
              record(cat({len_field(1, text("emb.table")), len_field(3, Bytes{})})));
  try {
    cellar::load_checkpoint(dir / "map.ckpt");
    FAIL();
  } catch (const cellar::Error& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("emb.table"), std::string::npos) << e.what();
  }
}

// A tag is a protobuf string: any UTF-8, control characters included, which MindSpore writes and
// reads. cellar saves and loads such names unchanged (printing them is the printer's business:
// `cellar inspect` shows \xNN).
TEST(CkptCorrupt, NamesWithControlCharactersRoundTrip) {
  TempDir dir;
  const std::vector<std::string> names = {"tab\there", "esc\x1b[2Jclear", "line\nbreak", "del\x7f",
                                          std::string("nul\0inside", 11)};
  cellar::ParamDict params;
  for (size_t i = 0; i < names.size(); ++i) {
    cellar::Tensor t(DType::Float32, Shape{2});
    t.data<float>()[0] = static_cast<float>(i);
    t.data<float>()[1] = -1.0f;
    params.set(names[i], t);
  }
  cellar::save_checkpoint(params, dir / "odd.ckpt").get();
  const auto got = cellar::load_checkpoint(dir / "odd.ckpt");
  ASSERT_EQ(got.size(), names.size());
  size_t i = 0;
  for (const auto& [name, p] : got) {
    EXPECT_EQ(name, names[i]) << i;
    EXPECT_EQ(p.data().data<float>()[0], static_cast<float>(i));
    ++i;
  }
  // And a file written by hand, as MindSpore writes one.
  write_bytes(dir / "hand.ckpt", rec("a\x01b", {1}, "Int8", raw({7})));
  const auto hand = cellar::load_checkpoint(dir / "hand.ckpt");
  ASSERT_TRUE(hand.contains("a\x01b"));
}

// What the loader refuses in a name, the saver refuses too, in the same words: a name written is
// a name that loads.
TEST(CkptCorrupt, TheSaverRefusesTheNamesTheLoaderRefusesInTheSameWords) {
  TempDir dir;
  const std::vector<std::string> bad = {"", std::string(70000, 'x'), "\xc3\x28", "ok\xff"};
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    write_bytes(dir / "bad.ckpt", rec(bad[i], {1}, "Int8", raw({1})));
    std::string loader, saver;
    try {
      cellar::load_checkpoint(dir / "bad.ckpt");
      ADD_FAILURE() << "loaded";
    } catch (const cellar::FormatError& e) {
      loader = e.reason();
    }
    try {
      cellar::ParamDict params;
      params.set(bad[i], cellar::Tensor(DType::Int8, Shape{1}));
      cellar::save_checkpoint(params, dir / "saved.ckpt").get();
      ADD_FAILURE() << "saved";
    } catch (const cellar::ValueError& e) {
      EXPECT_EQ(e.code(), cellar::ErrorCode::kInvalidArgument);
      saver = e.reason();
    }
    EXPECT_FALSE(loader.empty());
    EXPECT_EQ(saver, loader);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "saved.ckpt"));
}

// What protobuf allows and MindSpore may write (or older MindSpore wrote) loads.
TEST(CkptCorrupt, LenientWhereProtobufIsLenient) {
  TempDir dir;
  const Bytes packed =
      record(value("p", cat({key(1, 2), varint(2), raw({2, 3}), len_field(2, text("Int8")),
                             len_field(3, raw({1, 2, 3, 4, 5, 6}))})));
  const Bytes reordered = record(
      cat({len_field(2, cat({len_field(3, raw({9})), len_field(2, text("UInt8")), dims_of({1})})),
           len_field(1, text("r"))}));
  const Bytes unknown_fields =
      cat({key(15, 0), varint(300), key(16, 1), raw({1, 2, 3, 4, 5, 6, 7, 8}),
           record(cat({key(9, 5), raw({1, 2, 3, 4}), value("u", tensor({1}, "Bool", raw({1}))),
                       len_field(7, text("ignored"))})),
           len_field(2, text("ignored too"))});
  const Bytes empty_vector = rec("e", {0}, "Float32", {});
  const Bytes new_scalar = rec("n", {}, "Int64", raw({5, 0, 0, 0, 0, 0, 0, 0}));
  write_bytes(dir / "ok.ckpt",
              cat({packed, reordered, unknown_fields, empty_vector, new_scalar, kValid}));
  const auto d = cellar::load_checkpoint(dir / "ok.ckpt");
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"p", "r", "u", "e", "n", "a", "c", "b", "s"}));
  EXPECT_EQ(d.at("p").data().shape(), (Shape{2, 3}));
  EXPECT_EQ(d.at("r").data().dtype(), DType::UInt8);
  EXPECT_EQ(d.at("u").data().dtype(), DType::Bool);
  EXPECT_EQ(d.at("e").data().shape(), (Shape{0}));
  EXPECT_EQ(d.at("n").data().shape(), Shape{});
  EXPECT_EQ(d.at("n").data().item(), 5);
  EXPECT_EQ(d.at("c").data().shape(), Shape{});
  EXPECT_EQ(d.at("c").data().item(), 0.5);
  EXPECT_EQ(d.at("b").data().shape(), (Shape{4}));
  EXPECT_EQ(d.at("b").data().data<int16_t>()[3], 4);
  EXPECT_EQ(d.at("s").data().string_value(), "ok");

  // A correct trailer verifies.
  write_bytes(dir / "crc.ckpt", cat({kValid, trailer(kValid)}));
  cellar::LoadOptions opt;
  opt.crc_check = true;
  EXPECT_EQ(cellar::load_checkpoint(dir / "crc.ckpt", opt).size(), 4u);
}

// Seeded random damage to a valid file: every outcome is a load or a cellar::Error.
TEST(CkptCorrupt, RandomMutationsNeverCrash) {
  TempDir dir;
  const Bytes body = cat({kValid, rec("z", {2, 2}, "Float64", Bytes(32, std::byte{0x3f}))});
  const Bytes base = cat({body, trailer(body)});
  std::mt19937_64 rng(20240601);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  int loaded = 0, refused = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    Bytes b = base;
    const int ops = 1 + static_cast<int>(pick(3));
    for (int k = 0; k < ops && !b.empty(); ++k) {
      switch (pick(6)) {
        case 0:
          b[pick(b.size())] = static_cast<std::byte>(rng());
          break;
        case 1:
          b[pick(b.size())] ^= static_cast<std::byte>(1u << pick(8));
          break;
        case 2:
          b.resize(pick(b.size()));
          break;
        case 3:
          b.insert(b.begin() + static_cast<ptrdiff_t>(pick(b.size() + 1)),
                   static_cast<std::byte>(rng()));
          break;
        case 4:
          b.erase(b.begin() + static_cast<ptrdiff_t>(pick(b.size())));
          break;
        case 5:
          b[pick(b.size())] = std::byte{0xff};
          break;
      }
    }
    // Unlink first: truncating a file in place makes ext4 write it back on close (slow).
    std::filesystem::remove(dir / "m.ckpt");
    write_bytes(dir / "m.ckpt", b);
    cellar::LoadOptions opt;
    opt.crc_check = iter % 4 == 0;
    try {
      const auto d = cellar::load_checkpoint(dir / "m.ckpt", opt);
      // Touch every byte of every tensor: a view outside the file would fault here.
      unsigned sum = 0;
      for (const auto& [name, p] : d) {
        const cellar::Tensor& t = p.data();
        if (t.dtype() == DType::String) {
          sum += static_cast<unsigned>(t.string_value().size());
          continue;
        }
        ASSERT_EQ(t.nbytes(), static_cast<size_t>(t.numel()) * cellar::itemsize(t.dtype()));
        for (size_t i = 0; i < t.nbytes(); ++i) sum += std::to_integer<unsigned>(t.raw_data()[i]);
      }
      (void)sum;
      ++loaded;
    } catch (const cellar::Error& e) {
      ++refused;
      ASSERT_NE(std::string(e.what()).find("m.ckpt"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iter << ": not a cellar::Error: " << e.what();
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
