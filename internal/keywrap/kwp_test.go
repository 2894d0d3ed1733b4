package keywrap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("decode hex %q: %v", s, err)
	}
	return b
}

// TestWrapPadRFC5649Vectors checks the two examples of RFC 5649 section 6.
func TestWrapPadRFC5649Vectors(t *testing.T) {
	const kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
	tests := map[string]struct {
		key, wrapped string
	}{
		"20 octets": {
			key:     "c37b7e6492584340bed12207808941155068f738",
			wrapped: "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
		},
		"7 octets": {
			key:     "466f7250617369",
			wrapped: "afbeb0f07dfbf5419200f2ccb50bb24f",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := WrapPad(mustHex(t, kek), mustHex(t, tc.key))
			if err != nil {
				t.Fatalf("WrapPad: %v", err)
			}
			if hex.EncodeToString(got) != tc.wrapped {
				t.Errorf("WrapPad = %x, want %s", got, tc.wrapped)
			}
			plain, err := UnwrapPad(mustHex(t, kek), mustHex(t, tc.wrapped))
			if err != nil {
				t.Fatalf("UnwrapPad: %v", err)
			}
			if hex.EncodeToString(plain) != tc.key {
				t.Errorf("UnwrapPad = %x, want %s", plain, tc.key)
			}
		})
	}
}

func TestWrapPadRoundTrip(t *testing.T) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 1217} {
		plain := bytes.Repeat([]byte{0xa5}, n)
		wrapped, err := WrapPad(kek, plain)
		if err != nil {
			t.Fatalf("WrapPad(%d bytes): %v", n, err)
		}
		if want := 8 + (n+7)/8*8; len(wrapped) != want {
			t.Errorf("WrapPad(%d bytes) length = %d, want %d", n, len(wrapped), want)
		}
		got, err := UnwrapPad(kek, wrapped)
		if err != nil {
			t.Fatalf("UnwrapPad(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("UnwrapPad(%d bytes) returned other bytes", n)
		}
	}
}

func TestUnwrapPadRejects(t *testing.T) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	long, err := WrapPad(kek, bytes.Repeat([]byte{1}, 20))
	if err != nil {
		t.Fatal(err)
	}
	short, err := WrapPad(kek, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	tests := map[string]struct {
		kek, ciphertext []byte
	}{
		"empty":              {kek, nil},
		"one semiblock":      {kek, long[:8]},
		"not a multiple":     {kek, long[:len(long)-1]},
		"truncated":          {kek, long[:len(long)-8]},
		"first byte flipped": {kek, flip(long, 0)},
		"last byte flipped":  {kek, flip(long, len(long)-1)},
		"short flipped":      {kek, flip(short, 5)},
		"wrong key":          {bytes.Repeat([]byte{0x43}, 32), long},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := UnwrapPad(tc.kek, tc.ciphertext)
			if !errors.Is(err, ErrIntegrity) {
				t.Errorf("UnwrapPad error = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestWrapPadRejectsInput(t *testing.T) {
	if _, err := WrapPad(make([]byte, 32), nil); err == nil {
		t.Error("WrapPad accepted an empty plaintext")
	}
	if _, err := WrapPad(make([]byte, 31), []byte{1}); err == nil {
		t.Error("WrapPad accepted a 31-byte key-encryption key")
	}
}

func FuzzUnwrapPad(f *testing.F) {
	kek := bytes.Repeat([]byte{7}, 32)
	seed, _ := WrapPad(kek, []byte("seed plaintext"))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ciphertext []byte) {
		plain, err := UnwrapPad(kek, ciphertext)
		if err != nil {
			return
		}
		again, err := WrapPad(kek, plain)
		if err != nil {
			t.Fatalf("WrapPad of unwrapped bytes: %v", err)
		}
		if !bytes.Equal(again, ciphertext) {
			t.Fatal("unwrap then wrap did not return the input")
		}
	})
}
