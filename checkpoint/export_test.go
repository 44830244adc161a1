package checkpoint

import "unsafe"

// RaceEnabled tells the external tests whether -race is on.
const RaceEnabled = raceEnabled

func unsafeSizeofEntry() uintptr { return unsafe.Sizeof(entry{}) }
