! Lancehead reference kernels in Fortran 2008: the Julia set and 2D diffusion of SPEC §1, for
! the `fortran` backend (the book's f2py example, 7-24, called through bind(C) instead).
!
! Memory layout: Rust (and numpy order='C') stores a rows x cols array row-major; Fortran is
! column-major. Declaring each array with its dimensions reversed, a(cols, rows), makes
! a(j, i) the element of row i, column j of the very same memory: no copy, no transpose.
! (The book's order='F' pitfall is the opposite choice, a(rows, cols), which would read the
! transpose and is caught by the non-square tests.)
!
! Interface: bind(C) procedures, scalars by value, no CHARACTER arguments. The signatures
! match c_ref/lancehead_ref.h exactly, so Rust calls both through one wrapper. Fortran has no
! unsigned integers: max_iter, steps and the counts are int32 here, and the Rust side refuses
! values above 2**31 - 1 before calling.
module lancehead_ref
  use, intrinsic :: iso_c_binding, only: c_double, c_int32_t, c_size_t
  implicit none
  private
  public :: lh_fortran_julia, lh_fortran_diffusion

contains

  ! Escape counts of the Julia set: counts(i, j) for the pixel z0 = xs(i) + ys(j) i, i.e. row
  ! j, column i of Rust's height x width array.
  subroutine lh_fortran_julia(width, height, xs, ys, cr, ci, max_iter, counts) &
      bind(C, name="lh_fortran_julia")
    integer(c_size_t), value, intent(in) :: width, height
    real(c_double), intent(in) :: xs(width), ys(height)
    real(c_double), value, intent(in) :: cr, ci
    integer(c_int32_t), value, intent(in) :: max_iter
    integer(c_int32_t), intent(out) :: counts(width, height)
    integer(c_size_t) :: i, j

    do j = 1, height
      do i = 1, width
        counts(i, j) = julia_pixel(xs(i), ys(j), cr, ci, max_iter)
      end do
    end do
  end subroutine lh_fortran_julia

  ! The escape count of one pixel, in SPEC's canonical operation order. The parentheses are
  ! part of the contract: Fortran may not reorder across them.
  pure function julia_pixel(zr0, zi0, cr, ci, max_iter) result(n)
    real(c_double), intent(in) :: zr0, zi0, cr, ci
    integer(c_int32_t), intent(in) :: max_iter
    integer(c_int32_t) :: n
    real(c_double) :: zr, zi, t

    zr = zr0
    zi = zi0
    n = 0
    do while (n < max_iter)
      if (.not. (zr*zr + zi*zi < 4.0_c_double)) exit
      t = (zr*zr - zi*zi) + cr
      zi = (2.0_c_double*zr)*zi + ci
      zr = t
      n = n + 1
    end do
  end function julia_pixel

  ! Advances Rust's rows x cols grid by `steps` explicit-Euler steps with k = d * dt,
  ! periodic in both directions, ping-ponging with the caller's scratch grid (no allocation).
  subroutine lh_fortran_diffusion(rows, cols, k, steps, grid, scratch) &
      bind(C, name="lh_fortran_diffusion")
    integer(c_size_t), value, intent(in) :: rows, cols
    real(c_double), value, intent(in) :: k
    integer(c_int32_t), value, intent(in) :: steps
    real(c_double), intent(inout) :: grid(cols, rows), scratch(cols, rows)
    integer(c_int32_t) :: s

    do s = 0, steps - 1
      if (mod(s, 2) == 0) then
        call step(rows, cols, k, grid, scratch)
      else
        call step(rows, cols, k, scratch, grid)
      end if
    end do
    if (mod(steps, 2) == 1) grid = scratch
  end subroutine lh_fortran_diffusion

  ! One step from src into dst: src(j, i) is row i, column j; indices wrap at the edges.
  pure subroutine step(rows, cols, k, src, dst)
    integer(c_size_t), intent(in) :: rows, cols
    real(c_double), intent(in) :: k, src(cols, rows)
    real(c_double), intent(out) :: dst(cols, rows)
    integer(c_size_t) :: i, j, up, down

    do i = 1, rows
      up = merge(rows, i - 1, i == 1)
      down = merge(1_c_size_t, i + 1, i == rows)
      if (cols == 1) then
        dst(1, i) = cell(src(1, up), src(1, down), src(1, i), src(1, i), src(1, i), k)
        cycle
      end if
      ! The two edge columns wrap; the loop between them has no branches to vectorize.
      dst(1, i) = cell(src(1, up), src(1, down), src(cols, i), src(2, i), src(1, i), k)
      do j = 2, cols - 1
        dst(j, i) = cell(src(j, up), src(j, down), src(j - 1, i), src(j + 1, i), src(j, i), k)
      end do
      dst(cols, i) = cell(src(cols, up), src(cols, down), src(cols - 1, i), src(1, i), &
                          src(cols, i), k)
    end do
  end subroutine step

  ! One updated cell in SPEC's canonical operation order.
  pure function cell(up, down, left, right, c, k) result(new)
    real(c_double), intent(in) :: up, down, left, right, c, k
    real(c_double) :: new, v, h, lap

    v = up + down
    h = left + right
    lap = (v + h) - 4.0_c_double*c
    new = c + k*lap
  end function cell

end module lancehead_ref
