// Go twin of micro.idle: N goroutines report ready and block on one channel; resident
// memory (PSS, /proc/self/smaps_rollup) grown meanwhile, divided by N.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"../twin"
)

func pss() int64 {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "Pss:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int64("tasks", 10000, "idle goroutines")
	flag.Int64("size", 1, "unused")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	n := *tasks

	start := time.Now()
	// twin:begin
	ready := make(chan byte, n)
	gate := make(chan byte)
	var wg sync.WaitGroup
	var count int64
	var mu sync.Mutex
	// twin:end
	before := pss()
	// twin:begin
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready <- 1
			if _, ok := <-gate; !ok {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	for i := int64(0); i < n; i++ {
		<-ready
	}
	// twin:end
	after := pss()
	// twin:begin
	close(gate)
	wg.Wait()
	// twin:end
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d bytes_per_task=%d\n", wall.Nanoseconds(), n,
		count, (after-before)/n)
}

func main() { twin.Main(run) }
