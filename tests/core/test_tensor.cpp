// Core types: DType facts, float conversions, Shape printing, Tensor ownership and conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "test_util.h"

using namespace cellar;

TEST(DType, MindSporeNamesRoundTrip) {
  for (DType t : {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8,
                  DType::UInt16, DType::UInt32, DType::UInt64, DType::Float16, DType::BFloat16,
                  DType::Float32, DType::Float64, DType::String}) {
    auto back = dtype_from_mindspore_name(mindspore_name(t));
    ASSERT_TRUE(back.has_value()) << mindspore_name(t);
    EXPECT_EQ(*back, t);
  }
  EXPECT_EQ(mindspore_name(DType::Float32), "Float32");
  EXPECT_EQ(mindspore_name(DType::String), "str");
  EXPECT_FALSE(dtype_from_mindspore_name("float32").has_value());
  EXPECT_EQ(itemsize(DType::BFloat16), 2u);
  EXPECT_EQ(itemsize(DType::Int64), 8u);
}

TEST(DType, HalfConversionIsExactOnEveryHalf) {
  // Every finite half converts to float and back to the same bits.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = half_to_float(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    ASSERT_EQ(float_to_half(f), bits) << std::hex << h;
  }
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);                          // overflow → inf
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie → even
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
}

TEST(DType, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
}

TEST(Shape, PrintsLikeAPythonTuple) {
  auto str = [](const Shape& s) {
    std::ostringstream os;
    os << s;
    return os.str();
  };
  EXPECT_EQ(str(Shape{1, 10}), "(1, 10)");
  EXPECT_EQ(str(Shape{10}), "(10,)");
  EXPECT_EQ(str(Shape{}), "()");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ((Shape{2, 0, 3}.numel()), 0);
  EXPECT_FALSE((Shape{-1, 2}.checked_numel().has_value()));
  EXPECT_FALSE((Shape{1LL << 40, 1LL << 40}.checked_numel().has_value()));
}

TEST(Tensor, CopySharesCloneCopies) {
  Tensor a = ones({2, 3});
  Tensor b = a;
  Tensor c = a.clone();
  a.data<float>()[0] = 5;
  EXPECT_EQ(b.data<float>()[0], 5);
  EXPECT_EQ(c.data<float>()[0], 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw_data()) % Storage::kAlignment, 0u);
  EXPECT_THROW(a.data<double>(), ValueError);
}

TEST(Tensor, ConversionsBetweenTypes) {
  Tensor f = Tensor::from_vector<float>({1.5f, -2.25f, 65504.0f, 0.0f}, {4});
  Tensor h = f.to(DType::Float16);
  Tensor back = h.to(DType::Float32);
  EXPECT_TRUE(back.equal(f));
  Tensor bf = f.to(DType::BFloat16).to(DType::Float64);
  EXPECT_DOUBLE_EQ(bf.data<double>()[0], 1.5);
  Tensor i = f.to(DType::Int32);
  EXPECT_EQ(i.data<int32_t>()[1], -2);
  Tensor u = Tensor::from_vector<float>({-3.0f, 300.0f}, {2}).to(DType::UInt8);
  EXPECT_EQ(u.data<uint8_t>()[0], 0);  // saturates
  EXPECT_EQ(u.data<uint8_t>()[1], 255);
  EXPECT_THROW(Tensor::from_string("x").to(DType::Float32), ValueError);
}

TEST(Tensor, StringsAndScalars) {
  Tensor s = Tensor::from_string("héllo");
  EXPECT_EQ(s.dtype(), DType::String);
  EXPECT_EQ(s.string_value(), "héllo");
  EXPECT_EQ(s.shape(), Shape{});
  Tensor k = Tensor::scalar<int64_t>(7);
  EXPECT_EQ(k.item(), 7.0);
  EXPECT_EQ(k.rank(), 0u);
}

TEST(Tensor, ViewsOfAMappedFileKeepItAlive) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(256);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  Tensor t;
  {
    auto file = MappedFile::open(dir / "f.bin");
    t = Tensor(DType::UInt8, Shape{16}, Storage::view(file, 64, 16));
  }
  EXPECT_TRUE(t.storage()->is_mapped());
  EXPECT_EQ(t.data<uint8_t>()[0], 64);
  t.data<uint8_t>()[0] = 1;  // private mapping: the file is not changed
  EXPECT_EQ(cellar::testing::read_bytes(dir / "f.bin")[64], std::byte(64));
  EXPECT_THROW(MappedFile::open(dir / "missing.bin"), IoError);
  EXPECT_THROW(
      Tensor(DType::Float32, Shape{100}, Storage::view(MappedFile::open(dir / "f.bin"), 0, 16)),
      ValueError);
}

TEST(Tensor, ExternalMemoryIsViewedInPlaceAndGivenBackWithTheLastView) {
  // Memory another library owns (here a vector standing in for a NumPy array): the tensor reads
  // and writes it in place, and the owner's deleter runs once, after the last tensor is gone.
  auto block = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  int released = 0;
  std::shared_ptr<void> owner(block.get(), [block, &released](void*) mutable {
    ++released;
    block.reset();
  });
  std::weak_ptr<std::vector<float>> alive = block;
  float* bytes = block->data();
  block.reset();
  Tensor b;
  {
    Tensor a(DType::Float32, Shape{2, 3},
             Storage::external(reinterpret_cast<std::byte*>(bytes), 6 * sizeof(float),
                               std::move(owner)));
    EXPECT_EQ(a.data<float>(), bytes);
    EXPECT_FALSE(a.storage()->is_mapped());
    a.data<float>()[0] = 10;  // through the tensor into the owner's memory
    EXPECT_EQ(bytes[0], 10);
    bytes[5] = 60;  // and the other way
    b = a.reshape(Shape{6});
    EXPECT_EQ(b.data<float>()[5], 60);
    // A tensor larger than the memory is refused like one over any other storage.
    EXPECT_THROW(Tensor(DType::Float32, Shape{7}, a.storage()), ValueError);
  }
  EXPECT_EQ(released, 0);
  EXPECT_FALSE(alive.expired());
  b = Tensor();
  EXPECT_EQ(released, 1);
  EXPECT_TRUE(alive.expired());
}

TEST(Value, KindsAndErrors) {
  Value v(DType::Float32);
  EXPECT_EQ(v.kind_name(), "DType");
  EXPECT_THROW(v.tensor(), ValueError);
  Value t(Value::Tuple{Value(ones({1})), Value(ones({2}))});
  EXPECT_EQ(t.tuple().size(), 2u);
}

TEST(Tensor, DeferredCopyGathersMisalignedBytesOnFirstUseOnly) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(3 * 4096 + 7);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i * 7 % 251);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  auto file = MappedFile::open(dir / "f.bin");
  // Two pieces at odd offsets, the first spanning whole pages (dropped after the copy).
  auto st = Storage::deferred_copy(file, {{3, 2 * 4096 + 1}, {2 * 4096 + 9, 3}}, 2 * 4096 + 4);
  file.reset();  // the storage keeps the mapping alive until it has copied
  EXPECT_TRUE(st->is_pending());
  EXPECT_FALSE(st->is_mapped());
  Tensor t(DType::Float32, Shape{2 * 1024 + 1}, st);
  const float* p = t.data<float>();
  EXPECT_FALSE(st->is_pending());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % Storage::kAlignment, 0u);
  const auto* b = reinterpret_cast<const std::byte*>(p);
  for (size_t i = 0; i < 2 * 4096 + 1; ++i) ASSERT_EQ(b[i], bytes[3 + i]) << i;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(b[2 * 4096 + 1 + i], bytes[2 * 4096 + 9 + i]);
  EXPECT_EQ(t.data<float>(), p);  // copied once
}

TEST(Tensor, DeferredCopyIsMadeOnceUnderConcurrentFirstUse) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(1 << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i % 253);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  auto st =
      Storage::deferred_copy(MappedFile::open(dir / "f.bin"), {{1, (1 << 20) - 5}}, (1 << 20) - 5);
  std::vector<const std::byte*> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) threads.emplace_back([&, i] { seen[i] = st->data(); });
  for (auto& th : threads) th.join();
  for (auto* s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_EQ(seen[0][100], bytes[101]);
}
