// Go twin of cpu.hash: a goroutine per task hashes its own buffer with SHA-256 (crypto/sha256)
// `rounds` times, the digest fed back into the buffer's first 32 bytes; the checksum sums
// each task's last digest's first 8 bytes (little-endian). Buffers are filled as wl_fill
// does. Go has no GIL: native=1 changes nothing and is accepted for the same cell.
// -proc-rounds R runs the whole thing R times in this process and reports the last (the
// in-process rounds of the other twins; -rounds is the workload's own parameter here).
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"../twin"
)

// fill is wl_fill: xorshift64 from seed*golden+1, one byte per step.
func fill(buf []byte, seed uint64) {
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range buf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
}

func kernel(data []byte, rounds int) uint64 {
	var out [32]byte
	for r := 0; r < rounds; r++ {
		out = sha256.Sum256(data)
		copy(data, out[:])
	}
	return binary.LittleEndian.Uint64(out[:8])
}

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int("tasks", 8, "tasks (buffers)")
	size := flag.Int("size", 1024, "KiB per buffer")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int("rounds", 4, "times each buffer is hashed")
	flag.Int("native", 0, "accepted; Go code has no lock to release")
	procRounds := flag.Int("proc-rounds", 1, "rounds in this process; the last is reported")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	var wall time.Duration
	var sum uint64
	for pr := 0; pr < *procRounds; pr++ {
		// The buffers are the tasks' arguments: made before the clock starts, as the C
		// root fills each before spawning its task.
		bufs := make([][]byte, *tasks)
		for i := range bufs {
			bufs[i] = make([]byte, *size*1024)
			fill(bufs[i], uint64(i))
		}
		start := time.Now()
		res := make([]uint64, *tasks)
		var wg sync.WaitGroup
		for i := 0; i < *tasks; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = kernel(bufs[i], *rounds)
			}(i)
		}
		wg.Wait()
		wall = time.Since(start)
		sum = 0
		for _, v := range res {
			sum += v
		}
	}
	fmt.Printf("workload=cpu.hash wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), *tasks, sum)
}

func main() { twin.Main(run) }
