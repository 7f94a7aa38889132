package config

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// keyFileMax bounds what is read from a key file; a key is 44 bytes.
const keyFileMax = 4096

// GenerateKey returns a new random 32-byte gossip key, base64-encoded, as
// the content of a secret_key_file ("wackamole keygen").
func GenerateKey() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("config: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// readKeyFile reads a gossip key file. It refuses anything but a regular
// file, so that a name like /dev/zero or a FIFO cannot hang Parse, and a
// file other users can access: a gossip key anybody can read protects
// nothing (like ssh with private keys; group access is allowed so that a
// wackamole group can own it).
func readKeyFile(name string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer. It changes nothing for regular files.
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("%s is accessible by other users (mode %04o): run chmod o-rwx on it", name, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, keyFileMax+1))
	if err != nil {
		return nil, err
	}
	if len(data) > keyFileMax {
		return nil, fmt.Errorf("%s is too large for a key file", name)
	}
	return data, nil
}

// decodeKey decodes the content of a key file. Error messages never
// include the content.
// maxKeys bounds the keys of one key file (a rotation needs two).
const maxKeys = 4

// decodeKeys decodes a key file: one base64 key per line, the first one
// primary; blank lines and lines starting with # are ignored.
func decodeKeys(data []byte) ([][]byte, error) {
	var keys [][]byte
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return nil, fmt.Errorf("line %d: the same key twice", i+1)
			}
		}
		keys = append(keys, key)
	}
	switch {
	case len(keys) == 0:
		return nil, errors.New(`the key file is empty: fill it with "wackamole keygen"`)
	case len(keys) > maxKeys:
		return nil, fmt.Errorf("%d keys; at most %d (the first encrypts, the others are accepted during a rotation)", len(keys), maxKeys)
	}
	return keys, nil
}

func decodeKey(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(data)
	if len(text) == 0 {
		return nil, errors.New(`the key file is empty: fill it with "wackamole keygen"`)
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		return nil, errors.New(`the key is not valid base64: make one with "wackamole keygen"`)
	}
	key = key[:n]
	if !validKeyLen(len(key)) {
		return nil, fmt.Errorf(`the key decodes to %d bytes, want 16, 24 or 32: make one with "wackamole keygen"`, len(key))
	}
	return key, nil
}

// validKeyLen reports whether n is an AES key size, which memberlist
// requires.
func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }
