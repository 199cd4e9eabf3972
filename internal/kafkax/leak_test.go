package kafkax

import (
	"testing"

	"github.com/sharelog/sharelog/internal/leaktest"
)

// TestMain fails the package's run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
