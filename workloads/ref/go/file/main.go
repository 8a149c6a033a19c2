// Go twin of io.file: a goroutine per file reads its own page-cached file (f<i> in the
// folder the harness prepared, --dir) in chunk_kb KiB reads and checksums it (FNV-1a-like:
// h = h*0x100000001b3 ^ byte, as io_file.c's sum_words); the checksum sums every file's h.
// Regular-file reads block an OS thread each (Go hands the P to another M meanwhile).
// -rounds R: R rounds in this process, the last reported.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"../twin"
)

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	tasks := flag.Int("tasks", 8, "files")
	size := flag.Int64("size", 1024, "KiB per file")
	chunk := flag.Int("chunk_kb", 64, "read size in KiB")
	dir := flag.String("dir", "", "folder of f0..f<tasks-1> (made by the harness)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	rounds := flag.Int("rounds", 1, "rounds in this process; the last is reported")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "file: --dir is required")
		os.Exit(2)
	}

	var wall time.Duration
	var sum uint64
	for r := 0; r < *rounds; r++ {
		start := time.Now()
		res := make([]uint64, *tasks)
		errs := make([]error, *tasks)
		var wg sync.WaitGroup
		for i := 0; i < *tasks; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				f, err := os.Open(filepath.Join(*dir, fmt.Sprintf("f%d", i)))
				if err != nil {
					errs[i] = err
					return
				}
				defer f.Close()
				buf := make([]byte, *chunk*1024)
				h := uint64(0xcbf29ce484222325)
				for {
					k, err := f.Read(buf)
					for _, b := range buf[:k] {
						h = h*0x100000001b3 ^ uint64(b)
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						errs[i] = err
						return
					}
				}
				res[i] = h
			}(i)
		}
		wg.Wait()
		wall = time.Since(start)
		sum = 0
		for i, v := range res {
			if errs[i] != nil {
				fmt.Fprintln(os.Stderr, "file:", errs[i])
				os.Exit(1)
			}
			sum += v
		}
	}
	fmt.Printf("workload=io.file wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), int64(*tasks)**size*1024, sum)
}

func main() { twin.Main(run) }
