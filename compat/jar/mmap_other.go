//go:build !unix

package jar

import (
	"errors"
	"os"
)

func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	return nil, nil, errors.New("no memory mapping on this platform")
}
