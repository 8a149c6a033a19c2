// Go twin of io.pipe: P goroutine pairs ping-pong a message over two os.Pipe()s, n round
// trips per pair (Go parks a goroutine blocked on a pipe in its netpoller). The ping side
// fills message i as wl_fill(i) does and checks the echo; checksum: 2 per round trip (one
// per side), as the C tasks count. -rounds R: R rounds in this process, the last reported.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"../twin"
)

func fill(buf []byte, seed uint64) {
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range buf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
}

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	pairs := flag.Int("tasks", 4, "pairs")
	n := flag.Int64("size", 10000, "round trips per pair")
	msg := flag.Int("msg", 64, "message bytes")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int("rounds", 1, "rounds in this process; the last is reported")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	var wall time.Duration
	var ok int64
	for r := 0; r < *rounds; r++ {
		type pair struct{ pingR, pingW, pongR, pongW *os.File }
		ps := make([]pair, *pairs)
		for i := range ps {
			r1, w1, err := os.Pipe() // ping -> pong
			must(err)
			r2, w2, err := os.Pipe() // pong -> ping
			must(err)
			ps[i] = pair{r2, w1, r1, w2}
		}
		ok = 0
		start := time.Now()
		var wg sync.WaitGroup
		for i := range ps {
			p := ps[i]
			wg.Add(2)
			go func() { // pong
				defer wg.Done()
				buf := make([]byte, *msg)
				var seen int64
				for k := int64(0); k < *n; k++ {
					_, err := io.ReadFull(p.pongR, buf)
					must(err)
					_, err = p.pongW.Write(buf)
					must(err)
					seen++
				}
				atomic.AddInt64(&ok, seen)
			}()
			go func() { // ping
				defer wg.Done()
				buf, want := make([]byte, *msg), make([]byte, *msg)
				var good int64
				for k := int64(0); k < *n; k++ {
					fill(buf, uint64(k))
					_, err := p.pingW.Write(buf)
					must(err)
					_, err = io.ReadFull(p.pingR, buf)
					must(err)
					fill(want, uint64(k))
					if bytes.Equal(buf, want) {
						good++
					}
				}
				atomic.AddInt64(&ok, good)
			}()
		}
		wg.Wait()
		wall = time.Since(start)
		for _, p := range ps {
			p.pingR.Close()
			p.pingW.Close()
			p.pongR.Close()
			p.pongW.Close()
		}
	}
	fmt.Printf("workload=io.pipe wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), int64(*pairs)**n, ok)
}

func main() { twin.Main(run) }
