package engine

import (
	"crypto/rand"
	"math/big"
)

// Names for containers run without --name, "adjective_surname" as Docker
// makes them (its namesgenerator), from shorter lists: computing's and
// the kernel's people.
var (
	adjectives = []string{
		"admiring", "agitated", "amazing", "awesome", "bold", "brave", "busy", "clever", "cool", "crazy",
		"dazzling", "eager", "ecstatic", "elegant", "epic", "focused", "friendly", "gallant", "gifted", "happy",
		"hopeful", "jolly", "keen", "kind", "laughing", "lucid", "modest", "nifty", "nostalgic", "optimistic",
		"peaceful", "pensive", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "vibrant", "zealous",
	}
	surnames = []string{
		"allen", "babbage", "backus", "bell", "cerf", "dijkstra", "engelbart", "hamilton", "hopper", "kahan",
		"kay", "kernighan", "knuth", "lamport", "liskov", "lovelace", "mccarthy", "minsky", "moore", "neumann",
		"perlman", "pike", "ritchie", "shannon", "shaw", "stallman", "sutherland", "tanenbaum", "thompson", "torvalds",
		"turing", "wirth", "wozniak", "yonath", "goldberg", "hoare", "kleinrock", "lampson", "milner", "tarjan",
	}
)

// randomName is a new "adjective_surname".
func randomName() string {
	pick := func(list []string) string {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		if err != nil {
			return list[0]
		}
		return list[n.Int64()]
	}
	return pick(adjectives) + "_" + pick(surnames)
}
