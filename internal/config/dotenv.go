package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// mergeDotEnv adds the variables of a .env file that env does not set
// already: the real environment wins, as with dotenv in the seed. A
// missing file is not an error.
func (env Env) mergeDotEnv(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	vars, err := ParseDotEnv(bufio.NewScanner(f))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for k, v := range vars {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	return nil
}

// ParseDotEnv reads KEY=VALUE lines; blank lines and # comments are
// skipped, "export " prefixes and matching quotes are removed.
func ParseDotEnv(sc *bufio.Scanner) (Env, error) {
	env := Env{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		env[k] = v
	}
	return env, sc.Err()
}
